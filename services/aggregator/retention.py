"""Retention: hide days older than the window, drop whole year partitions, create ahead.

Owns what "kept" means after a day completes with anchor D (the last complete day): every day
``>= D - RETENTION_DAYS`` (shared.db.partitions.retention_cutoff), or every day at all when
RETENTION_DAYS is unset (the default). In one short transaction the cutoff is recorded in
``retention_state`` (every read is bounded below by it, so older days vanish for readers at that
commit), and the rows that do not grow with the number of packages are trimmed: ``__all__``'s
open days, the record of complete days and the package index. Then the year partitions of
``downloads_months`` whose days are all older are dropped: no row-by-row delete at any size; the
compacted months of a partly expired year, and open days older than the cutoff (compaction moves
them into their month), stay unseen until their year goes. The partition of the next days' year
is created ahead of the data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from shared.db.partitions import drop_partitions_before, ensure_partitions, retention_cutoff

RECORD_CUTOFF = """
INSERT INTO retention_state (id, cutoff) VALUES (true, $1)
ON CONFLICT (id) DO UPDATE SET cutoff = EXCLUDED.cutoff
"""
TRIM_ALL = "DELETE FROM downloads_all WHERE day < $1"
TRIM_INGEST_DAYS = "DELETE FROM ingest_days WHERE day < $1"
TRIM_INDEX_GONE = "DELETE FROM package_index WHERE last_day < $1"
TRIM_INDEX_FIRST = "UPDATE package_index SET first_day = $1, updated_at = now() WHERE first_day < $1"
#: VACUUM cannot run in a transaction, so it runs on its own. It refreshes the statistics and
#: marks the new day's pages all-visible, so `/overall` reads of open days stay index-only scans;
#: with the visibility map it visits only the pages changed since the last one.
VACUUM_OPEN_DAYS = "VACUUM (ANALYZE) downloads_days"
ANALYZE_ROLLUPS = "ANALYZE recent_downloads, package_index, ingest_days, downloads_all"


@dataclass(frozen=True)
class RetentionResult:
    cutoff: dt.date
    dropped: int
    created: int


async def apply_retention(
    pool: asyncpg.Pool, anchor: dt.date, retention_days: int | None, ahead: int
) -> RetentionResult:
    """Hide and drop what the window no longer keeps; create the partitions of ``ahead`` days."""
    cutoff = retention_cutoff(anchor, retention_days)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(RECORD_CUTOFF, cutoff)
        await conn.execute(TRIM_ALL, cutoff)
        await conn.execute(TRIM_INGEST_DAYS, cutoff)
        await conn.execute(TRIM_INDEX_GONE, cutoff)
        await conn.execute(TRIM_INDEX_FIRST, cutoff)
    dropped = await drop_partitions_before(pool, cutoff)
    created = 0
    if ahead > 0:
        created = await ensure_partitions(
            pool, anchor + dt.timedelta(days=1), anchor + dt.timedelta(days=ahead)
        )
    return RetentionResult(cutoff, dropped, created)


async def analyze(pool: asyncpg.Pool, day: dt.date | None, *, rollups: bool = True) -> None:
    """Refresh what a completed day changed: the open days (statistics and visibility map, with
    VACUUM) and the rollups' statistics."""
    if day is not None:
        await pool.execute(VACUUM_OPEN_DAYS)
    if rollups:
        await pool.execute(ANALYZE_ROLLUPS)
