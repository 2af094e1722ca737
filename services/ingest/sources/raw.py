"""The raw source: a local export of ``file_downloads`` (Parquet or JSON lines) run through DuckDB.

Owns running the real ``query.sql`` locally: the BigQuery text is transpiled by sqlglot to DuckDB,
the table reference is pointed at a view over the files, and the day and mirror list are bound as
parameters. Results are fetched in batches in a worker thread, so the day is never in memory.
The first day of the export comes from the real ``first_day.sql`` too, run on a view that plays
BigQuery's ``INFORMATION_SCHEMA.PARTITIONS`` (one partition per UTC day of the rows).
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

from shared.installers import PEOPLE_INSTALLERS

from .base import RawCounts, SourceError
from .rows import (
    DEFAULT_MIRRORS,
    FIRST_DAY_TABLE,
    Row,
    first_day_text,
    group_row_batches,
    partition_day,
    query_text,
)

TABLE = "file_downloads"
PARTITIONS = "partitions"
#: BigQuery table names (the last part of a reference) and the local views standing in for them.
LOCAL_TABLES = {TABLE: TABLE, "INFORMATION_SCHEMA.PARTITIONS": PARTITIONS}
BATCH_ROWS = 10_000

#: What BigQuery's INFORMATION_SCHEMA.PARTITIONS says about the export: a partition per UTC day.
PARTITIONS_VIEW = """
CREATE VIEW partitions AS
SELECT 'file_downloads' AS table_name, strftime(CAST(timestamp AS DATE), '%Y%m%d') AS partition_id,
       COUNT(*) AS total_rows
FROM file_downloads GROUP BY ALL
"""
PARTITION_ROWS = "SELECT partition_id, total_rows FROM partitions ORDER BY partition_id"


def duckdb_query(bigquery_sql: str) -> str:
    """A BigQuery query in DuckDB's dialect, reading the local views (``file_downloads``, and
    ``partitions`` for ``INFORMATION_SCHEMA.PARTITIONS``)."""
    tree = sqlglot.parse_one(bigquery_sql, read="bigquery")
    for table in tree.find_all(exp.Table):
        if table.name in LOCAL_TABLES:
            table.replace(exp.to_table(LOCAL_TABLES[table.name]))
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

    def first_day(self) -> dt.date:
        """The first UTC day with a row in the export (``first_day.sql`` on its partitions view)."""
        con = self._connect()
        try:
            con.execute(PARTITIONS_VIEW)
            row = con.execute(duckdb_query(first_day_text()), {"table": FIRST_DAY_TABLE}).fetchone()
        except duckdb.Error as exc:
            raise SourceError(f"cannot read the first day of {str(self.path)!r}: {exc}") from exc
        finally:
            con.close()
        return partition_day(row[0] if row else None)

    def partitions(self) -> list[tuple[str, int]]:
        """``(partition_id, total_rows)`` per UTC day of the export, as BigQuery would list them."""
        con = self._connect()
        try:
            con.execute(PARTITIONS_VIEW)
            found = con.execute(PARTITION_ROWS).fetchall()
        except duckdb.Error as exc:
            raise SourceError(f"cannot list the days of {str(self.path)!r}: {exc}") from exc
        finally:
            con.close()
        return [(str(pid), int(rows)) for pid, rows in found]

    def _params(self, day: dt.date) -> dict[str, Any]:
        return {"day": day, "mirrors": self.mirrors, "people": list(PEOPLE_INSTALLERS)}

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
