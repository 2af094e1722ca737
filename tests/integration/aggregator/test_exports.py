"""Bulk exports: a completed day's Parquet and CSV files hold exactly what the store holds.

Days complete through the real aggregator (the FastStream consumer, or its Processor), whose
background exporter writes EXPORT_DIR; the files are read back with pyarrow and with DuckDB.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import logging
from pathlib import Path
from typing import Any

import asyncpg
import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from nats.js import JetStreamContext

from services.aggregator import export_rows, exporter
from services.aggregator.app import run_export
from services.aggregator.complete import Outcome
from services.aggregator.consumer import Processor
from shared.db.compaction import compact_month
from shared.events import PackageDay, Subjects
from shared.exports import read_sidecar
from tests.integration.aggregator.helpers import (
    completed_run,
    expected_all,
    make_day,
    manifest_for,
    publish_run,
    running_consumer,
    settings_for,
    stored_rows,
)
from tests.integration.aggregator.test_compaction import with_versions
from tests.support.wait import wait_until

DAY = dt.date(2026, 11, 20)
log = logging.getLogger(__name__)
Row = tuple[str, str, str, int]


def listing(directory: Path, pattern: str = "*") -> list[str]:
    """The file names in ``directory`` (hidden temporary files included)."""
    return sorted(p.name for p in directory.glob(pattern)) + sorted(
        p.name for p in directory.glob("." + pattern)
    )


def parquet_rows(directory: Path, day: dt.date) -> list[Row]:
    table = pq.read_table(directory / f"{day}.parquet")
    assert set(table.column("day").to_pylist()) <= {day}
    return [(r["package"], r["dimension"], r["category"], r["downloads"]) for r in table.to_pylist()]


def csv_rows(directory: Path, day: dt.date) -> list[Row]:
    text = gzip.decompress((directory / f"{day}.csv.gz").read_bytes())
    types = {"category": "string", "package": "string", "dimension": "string"}
    table = pacsv.read_csv(io.BytesIO(text), convert_options=pacsv.ConvertOptions(column_types=types))
    assert table.column_names == ["day", "package", "dimension", "category", "downloads"]
    return [(r["package"], r["dimension"], r["category"], r["downloads"]) for r in table.to_pylist()]


def duck_rows(path: Path) -> list[Row]:
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    query = f"SELECT package, dimension, category::VARCHAR, downloads FROM {reader}(?) ORDER BY ALL"  # noqa: S608
    return [tuple(r) for r in duckdb.connect().execute(query, [str(path)]).fetchall()]  # type: ignore[misc]


async def exported(directory: Path, day: dt.date, run_id: str) -> bool:
    found = read_sidecar(directory, day)
    return found is not None and found.run_id == run_id


async def complete(processor: Processor, events: list[PackageDay], seq: int) -> None:
    await processor.write([(e, seq + i) for i, e in enumerate(events)])
    done = await processor.finish_day(manifest_for(events[0].day, events[0].run_id, events), seq + 999)
    assert done.outcome is Outcome.COMPLETED


def sums(rows: list[Row]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for _, d, c, n in rows:
        if d != "version":
            out[(d, c)] = out.get((d, c), 0) + n
    return out


async def test_a_completed_day_is_exported_as_the_store_holds_it(
    new_processor: Any, js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool, tmp_path: Path
) -> None:
    events = with_versions(make_day(DAY, 1000, "run-1"))
    async with running_consumer(new_processor(batch_size=500, export_dir=tmp_path)) as handler:
        await publish_run(js, subjects, events)
        await wait_until(lambda: completed_run(db, DAY), what="the day to complete")
        await wait_until(lambda: exported(tmp_path, DAY, "run-1"), what="the export")
        samples = handler.processor.metrics.export_seconds.collect()[0].samples
    seconds = next(s.value for s in samples if s.name.endswith("_sum"))
    log.info("a 1000-package day with versions and countries exported in %.3f s", seconds)
    stored = {(p, d, c, n) for p, d, c, n in await stored_rows(db, DAY)}
    from_parquet, from_csv = parquet_rows(tmp_path, DAY), csv_rows(tmp_path, DAY)
    assert set(from_parquet) == stored and len(from_parquet) == len(stored)
    assert from_csv == from_parquet  # the same rows in the same order
    assert from_parquet == sorted(from_parquet, key=lambda r: r[:3])
    assert duck_rows(tmp_path / f"{DAY}.parquet") == sorted(stored)
    assert duck_rows(tmp_path / f"{DAY}.csv.gz") == sorted(stored)
    # Every dimension's categories add up over the packages to what __all__ holds for the day,
    # and per package python_major and system add up to without_mirrors (make_day's contract).
    assert sums(from_parquet) == {(d, c): n for _, d, c, n in expected_all(events)}
    per_package = (
        duckdb.connect()
        .execute(
            """
        SELECT count(*) FROM (
            SELECT package, sum(downloads) FILTER (dimension = 'overall' AND category = 'without_mirrors') AS w,
                   sum(downloads) FILTER (dimension = 'python_major') AS m,
                   sum(downloads) FILTER (dimension = 'system') AS s
            FROM read_parquet(?) GROUP BY package) WHERE w = m AND w = s
        """,
            [str(tmp_path / f"{DAY}.parquet")],
        )
        .fetchone()
    )
    assert per_package == (1000,)
    sidecar = read_sidecar(tmp_path, DAY)
    assert sidecar is not None and sidecar.packages == 1000 and sidecar.rows == len(stored)
    assert listing(tmp_path) == [f"{DAY}.csv.gz", f"{DAY}.json", f"{DAY}.parquet"]


async def test_a_recompleted_day_replaces_its_files(
    new_processor: Any, db: asyncpg.Pool, tmp_path: Path
) -> None:
    processor = new_processor(export_dir=tmp_path)
    try:
        await complete(processor, make_day(DAY, 30, "first", seed=1), 1000)
        await wait_until(lambda: exported(tmp_path, DAY, "first"), what="the first export")
        before = parquet_rows(tmp_path, DAY)
        fixed = make_day(DAY, 20, "second", seed=2, scale=3)  # a corrected run: fewer packages
        await complete(processor, fixed, 5000)
        await wait_until(lambda: exported(tmp_path, DAY, "second"), what="the second export")
    finally:
        await processor.close()
    after = parquet_rows(tmp_path, DAY)
    stored = await stored_rows(db, DAY)
    assert set(after) == stored and len(after) == len(stored) and after != before
    assert csv_rows(tmp_path, DAY) == after
    assert {p for p, *_ in after} == {e.package for e in fixed}
    # Nothing is owed any more: a wake exports nothing.
    assert processor.exports is not None and await processor.exports.export_owed() == []


async def test_a_failed_export_leaves_the_previous_files(
    new_processor: Any, db: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    processor = new_processor()  # no EXPORT_DIR: exports are off
    assert processor.exports is None
    await complete(processor, make_day(DAY, 30, "first"), 1000)
    names = exporter.Dictionary()
    assert await exporter.export_day(db, names, tmp_path, DAY) is not None
    good = (tmp_path / f"{DAY}.parquet").read_bytes(), (tmp_path / f"{DAY}.json").read_bytes()
    await complete(processor, make_day(DAY, 30, "second", seed=5), 5000)
    calls = 0
    real = export_rows.table_of

    def failing(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk full")
        return real(*args)

    monkeypatch.setattr(exporter, "CHUNK_PACKAGES", 10)
    monkeypatch.setattr(exporter, "table_of", failing)
    with pytest.raises(OSError, match="disk full"):
        await exporter.export_day(db, names, tmp_path, DAY)
    assert ((tmp_path / f"{DAY}.parquet").read_bytes(), (tmp_path / f"{DAY}.json").read_bytes()) == good
    assert listing(tmp_path) == [f"{DAY}.csv.gz", f"{DAY}.json", f"{DAY}.parquet"]
    monkeypatch.setattr(exporter, "table_of", real)
    done = await exporter.export_day(db, names, tmp_path, DAY)
    assert done is not None and done.sidecar.run_id == "second"  # owed, so exported again
    assert set(parquet_rows(tmp_path, DAY)) == await stored_rows(db, DAY)
    assert await exporter.export_day(db, names, tmp_path, DAY) is None  # already holds it


async def test_the_export_command_reads_compacted_months(
    new_processor: Any, db: asyncpg.Pool, tmp_path: Path, database_url: str, redis_url: str, nats_url: str
) -> None:
    processor = new_processor()
    old, anchor = dt.date(2026, 9, 14), dt.date(2026, 11, 20)
    events = with_versions(make_day(old, 25, "old"))
    await complete(processor, events, 1000)
    await complete(processor, make_day(anchor, 5, "new"), 5000)
    await compact_month(db, old.replace(day=1))
    assert await db.fetchval("SELECT count(*) FROM downloads_days WHERE day = $1", old) == 0
    settings = settings_for(database_url, redis_url, nats_url, "", export_dir=tmp_path)
    code = await run_export(settings, old - dt.timedelta(days=3), anchor, False, missing_only=False)
    assert code == 0
    assert listing(tmp_path, "*.json") == [f"{old}.json", f"{anchor}.json"]
    want = {(e.package, d, c, n) for e in events for d, c, n in e.counts.rows()}
    got = parquet_rows(tmp_path, old)
    assert set(got) == want and len(got) == len(want)
    assert csv_rows(tmp_path, old) == got
    stamp = (tmp_path / f"{old}.parquet").stat().st_mtime_ns
    await run_export(settings, old, old, False, missing_only=True)  # nothing missing: untouched
    assert (tmp_path / f"{old}.parquet").stat().st_mtime_ns == stamp
    await run_export(settings, old, old, False, missing_only=False)  # rebuilt
    assert (tmp_path / f"{old}.parquet").stat().st_mtime_ns != stamp
    assert (
        await run_export(
            settings_for(database_url, redis_url, nats_url, ""), old, old, False, missing_only=False
        )
        == 2
    )


async def test_an_export_that_cannot_be_written_is_counted_and_retried(
    new_processor: Any, db: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(exporter, "RETRY_S", 0.05)
    processor = new_processor(export_dir=blocker / "exports")
    failures = processor.metrics.export_failures

    async def failed_twice() -> bool:
        return bool(failures._value.get() >= 2)  # retried after the first failure

    try:
        await complete(processor, make_day(DAY, 5, "run"), 1000)  # the day completes all the same
        assert await completed_run(db, DAY) == "run"
        await wait_until(failed_twice, what="failed export rounds")
    finally:
        await processor.close()
