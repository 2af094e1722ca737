"""The raw source: a local export of ``file_downloads`` (Parquet or JSON lines) run through DuckDB.

Owns running the real ``query.sql`` locally: the BigQuery text is transpiled by sqlglot to DuckDB,
the table reference is pointed at a view over the files, and the day and mirror list are bound as
parameters. Results are fetched in batches in a worker thread, so the day is never in memory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from .base import RawCounts, SourceError
from .rows import DEFAULT_MIRRORS, Row, group_row_batches, query_text

TABLE = "file_downloads"
BATCH_ROWS = 10_000


def duckdb_query(bigquery_sql: str) -> str:
    """The BigQuery query in DuckDB's dialect, reading the local ``file_downloads`` view."""
    tree = sqlglot.parse_one(bigquery_sql, read="bigquery")
    for table in tree.find_all(exp.Table):
        if table.name == TABLE:
            table.replace(exp.to_table(TABLE))
    return tree.sql(dialect="duckdb")


def _files(path: Path) -> tuple[list[str], str]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and _kind(p) is not None)
    elif path.exists():
        found = [path]
    else:
        raise SourceError(f"raw path {str(path)!r} does not exist")
    kinds = {_kind(p) for p in found}
    if not found or None in kinds:
        raise SourceError(f"no .parquet or .jsonl/.json/.ndjson files at {str(path)!r}")
    if len(kinds) > 1:
        raise SourceError("mixed Parquet and JSON-lines files; use one format per folder")
    kind = kinds.pop()
    assert kind is not None
    return [str(p) for p in found], kind


def _kind(path: Path) -> str | None:
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith(".parquet"):
        return "parquet"
    if suffixes.endswith((".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz")):
        return "json"
    return None


class RawSource:
    """Aggregates ``file_downloads``-shaped rows from local files with the production query."""

    name = "raw"

    def __init__(self, path: str | Path, mirrors: Sequence[str] = DEFAULT_MIRRORS) -> None:
        self.path = Path(path)
        self.mirrors = list(mirrors)
        self.sql = duckdb_query(query_text())

    def _connect(self) -> duckdb.DuckDBPyConnection:
        files, kind = _files(self.path)
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        try:
            rel = (
                con.read_parquet(files)
                if kind == "parquet"
                else con.read_json(files, format="newline_delimited")
            )
        except duckdb.Error as exc:
            con.close()
            raise SourceError(f"cannot read {kind} files under {str(self.path)!r}: {exc}") from exc
        types = dict(zip(rel.columns, (str(t) for t in rel.types), strict=True))
        if "timestamp" not in types:
            con.close()
            raise SourceError("raw files have no 'timestamp' column (not the file_downloads shape)")
        if not types["timestamp"].startswith("TIMESTAMP WITH"):
            rel = rel.project("* REPLACE (CAST(timestamp AS TIMESTAMPTZ) AS timestamp)")
        rel.create_view(TABLE)
        return con

    def rows(self, day: dt.date) -> list[Row]:
        """Every output row of the query for ``day`` (small inputs: tests and inspection)."""
        con = self._connect()
        try:
            return [tuple(r) for r in con.execute(self.sql, self._params(day)).fetchall()]
        finally:
            con.close()

    def _params(self, day: dt.date) -> dict[str, Any]:
        return {"day": day, "mirrors": self.mirrors}

    async def _batches(self, day: dt.date) -> AsyncIterator[list[Row]]:
        con = await asyncio.to_thread(self._connect)
        try:
            cursor = await asyncio.to_thread(con.execute, self.sql, self._params(day))
            while True:
                batch = await asyncio.to_thread(cursor.fetchmany, BATCH_ROWS)
                if not batch:
                    return
                yield [tuple(r) for r in batch]
        except duckdb.Error as exc:
            raise SourceError(f"raw query failed: {exc}") from exc
        finally:
            await asyncio.to_thread(con.close)

    async def iter_day(self, day: dt.date) -> AsyncIterator[tuple[str, RawCounts]]:
        async for item in group_row_batches(self._batches(day)):
            yield item
