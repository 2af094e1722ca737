"""Data steps of migrations: moves of existing rows that one SQL transaction should not do.

Owns the registry of data steps (:data:`STEPS`) and the in-place upgrade to the packed layout
(migration 0006; the history store's, migration 0009, is shared/db/upgrade_history.py): the rows of the day-partitioned
``daily_downloads`` and ``legacy_package_days`` are copied into ``downloads`` and
``downloads_all``, one day partition at a time, in batches of about :data:`BATCH_ROWS` old rows,
each batch one short transaction that also records how far the move got (``schema_upgrades``).
A crash resumes after the last committed batch and never copies a package-day twice (rows are
inserted with ``ON CONFLICT DO NOTHING`` and the position only moves forward). The old tables
are only read, so a reader of the previous release keeps answering during the move; 0007 drops
them once the step is done. A progress bar shows days and package-days moved.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

import asyncpg
from tqdm import tqdm

from shared.db.layout import Dictionary, Runs, categories_of, encode
from shared.db.upgrade_history import move_to_history_store
from shared.logging import get_logger
from shared.packages import ALL_PACKAGES

log = get_logger(__name__)

#: Old rows read per batch (about 18 per package-day, so ~2,800 package-days a transaction).
BATCH_ROWS: Final = 50_000
#: The run recorded for package-days that have no bookkeeping row (written outside the aggregator).
UNKNOWN_RUN: Final = "legacy-import"

STEP_STATE = "SELECT done, position FROM schema_upgrades WHERE version = $1"
STEP_START = "INSERT INTO schema_upgrades (version) VALUES ($1) ON CONFLICT (version) DO NOTHING"
STEP_POSITION = """
UPDATE schema_upgrades SET position = $2::jsonb, moved = moved + $3, updated_at = now() WHERE version = $1
"""
STEP_DONE = "UPDATE schema_upgrades SET done = true, updated_at = now() WHERE version = $1"

LEGACY_DAYS = """
SELECT to_date(right(c.relname, 8), 'YYYYMMDD') AS day
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass('daily_downloads') AND c.relname ~ '^daily_downloads_p[0-9]{8}$'
ORDER BY 1
"""
LEGACY_EXISTS = "SELECT to_regclass('legacy_package_days') IS NOT NULL"
BATCH_END = """
SELECT package FROM daily_downloads WHERE day = $1 AND package > $2 ORDER BY package OFFSET $3 LIMIT 1
"""
BATCH_ROWS_SQL = """
SELECT package, dimension, category, downloads FROM daily_downloads
WHERE day = $1 AND package > $2 AND ($3::text IS NULL OR package <= $3)
"""
BATCH_BOOKS = """
SELECT package, run_id, seq FROM legacy_package_days
WHERE day = $1 AND package > $2 AND ($3::text IS NULL OR package <= $3)
"""
DAY_RUN = "SELECT run_id FROM ingest_days WHERE day = $1"
ENSURE_MONTH = "SELECT ensure_month_partitions('downloads', $1, $1)"
CREATE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS upgrade_stage (LIKE downloads INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
STAGE_COLUMNS: Final = ("seq", "with_mirrors", "without_mirrors", "day", "run", "package", "cells")
MOVE_STAGE = """
INSERT INTO downloads (seq, with_mirrors, without_mirrors, day, run, package, cells)
SELECT seq, with_mirrors, without_mirrors, day, run, package, cells FROM upgrade_stage
ON CONFLICT (package, day) DO NOTHING
"""
MOVE_ALL = """
INSERT INTO downloads_all (day, run, with_mirrors, without_mirrors, cells) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (day) DO NOTHING
"""

Step = Callable[[asyncpg.Connection, int, bool], Awaitable[None]]


async def run_step(conn: asyncpg.Connection, version: int, *, progress: bool = False) -> None:
    """Run (or resume) the data step of ``version`` unless it has none or is done."""
    step = STEPS.get(version)
    if step is None:
        return
    await conn.execute(STEP_START, version)
    if (await conn.fetchrow(STEP_STATE, version))["done"]:
        return
    await step(conn, version, progress)
    await conn.execute(STEP_DONE, version)
    log.info("data step done", version=version)


def _position(raw: Any) -> tuple[dt.date | None, str | None]:
    """(day, last package moved of that day); package None means the whole day is moved."""
    if raw is None:
        return None, None
    found = json.loads(raw) if isinstance(raw, str) else raw
    return dt.date.fromisoformat(found["day"]), found["after"]


async def move_day_layout(conn: asyncpg.Connection, version: int, progress: bool) -> None:
    """Copy every old package-day into the packed tables (see module doc)."""
    if not await conn.fetchval(LEGACY_EXISTS):
        return
    days = [r["day"] for r in await conn.fetch(LEGACY_DAYS)]
    at_day, after = _position((await conn.fetchrow(STEP_STATE, version))["position"])
    categories, runs = Dictionary(), Runs()
    bar = tqdm(total=len(days), desc="moving package-days", unit="day", disable=not progress)
    moved_total = 0
    try:
        for day in days:
            if at_day is not None and (day < at_day or (day == at_day and after is None)):
                bar.update(1)
                continue
            start = after if day == at_day and after is not None else ""
            await conn.execute(ENSURE_MONTH, day)
            while True:
                end = await conn.fetchval(BATCH_END, day, start, BATCH_ROWS)
                moved = await _move_batch(conn, version, day, start, end, categories, runs)
                moved_total += moved
                bar.set_postfix(package_days=moved_total, refresh=False)
                if end is None:
                    break
                start = end
            bar.update(1)
    finally:
        bar.close()
    log.info("package-days moved to the packed layout", days=len(days), package_days=moved_total)


async def _move_batch(
    conn: asyncpg.Connection,
    version: int,
    day: dt.date,
    start: str,
    end: str | None,
    categories: Dictionary,
    runs: Runs,
) -> int:
    """One transaction: the package-days of ``day`` in ``(start, end]`` and the new position."""
    rows_of: dict[str, list[tuple[str, str, int]]] = {}
    for r in await conn.fetch(BATCH_ROWS_SQL, day, start, end):
        rows_of.setdefault(r["package"], []).append((r["dimension"], r["category"], int(r["downloads"])))
    books = {
        r["package"]: (r["run_id"], int(r["seq"])) for r in await conn.fetch(BATCH_BOOKS, day, start, end)
    }
    ids = await categories.ids(conn, {k for rows in rows_of.values() for k in categories_of(rows)})
    all_run = await runs.id(conn, await conn.fetchval(DAY_RUN, day) or UNKNOWN_RUN)
    records = []
    for package in sorted((set(rows_of) | set(books)) - {ALL_PACKAGES}):
        packed = encode(rows_of.get(package, ()), ids)
        run_id, seq = books.get(package, (UNKNOWN_RUN, 0))
        records.append(
            (
                seq,
                packed.with_mirrors,
                packed.without_mirrors,
                day,
                await runs.id(conn, run_id),
                package,
                packed.cells,
            )
        )
    async with conn.transaction():
        await conn.execute(CREATE_STAGE)
        if records:
            await conn.copy_records_to_table("upgrade_stage", records=records, columns=STAGE_COLUMNS)
            await conn.execute(MOVE_STAGE)
        if ALL_PACKAGES in rows_of:
            packed = encode(rows_of[ALL_PACKAGES], ids)
            await conn.execute(
                MOVE_ALL, day, all_run, packed.with_mirrors, packed.without_mirrors, packed.cells
            )
        position = json.dumps({"day": day.isoformat(), "after": end})
        await conn.execute(STEP_POSITION, version, position, len(records))
    return len(records)


STEPS: dict[int, Step] = {6: move_day_layout, 9: move_to_history_store}
