"""Retention: drop whole day partitions older than the window, create partitions ahead.

Owns what "kept" means after a day completes with anchor D (the last complete day): every day
``>= D - RETENTION_DAYS`` (shared.db.partitions.retention_cutoff). Older partitions of the
day-partitioned tables are dropped (each table in its own short transaction, so no transaction
holds exclusive locks on both parents), the record of complete days and the package index are
trimmed to match, and the partitions of the next days are created ahead of the data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from shared.db.partitions import drop_partitions_before, ensure_partitions, retention_cutoff

TRIM_INGEST_DAYS = "DELETE FROM ingest_days WHERE day < $1"
TRIM_INDEX_GONE = "DELETE FROM package_index WHERE last_day < $1"
TRIM_INDEX_FIRST = "UPDATE package_index SET first_day = $1, updated_at = now() WHERE first_day < $1"
ANALYZE_DAY = "SELECT analyze_day_partitions($1)"
ANALYZE_ROLLUPS = "ANALYZE recent_downloads, package_index, ingest_days"


@dataclass(frozen=True)
class RetentionResult:
    cutoff: dt.date
    dropped: int
    created: int


async def apply_retention(
    pool: asyncpg.Pool, anchor: dt.date, retention_days: int, ahead: int
) -> RetentionResult:
    """Drop what the window no longer keeps and create ``ahead`` day partitions after ``anchor``."""
    cutoff = retention_cutoff(anchor, retention_days)
    dropped = await drop_partitions_before(pool, cutoff)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(TRIM_INGEST_DAYS, cutoff)
        await conn.execute(TRIM_INDEX_GONE, cutoff)
        await conn.execute(TRIM_INDEX_FIRST, cutoff)
    created = 0
    if ahead > 0:
        created = await ensure_partitions(
            pool, anchor + dt.timedelta(days=1), anchor + dt.timedelta(days=ahead)
        )
    return RetentionResult(cutoff, dropped, created)


async def analyze(pool: asyncpg.Pool, day: dt.date | None, *, rollups: bool = True) -> None:
    """Refresh planner statistics of what a completed day changed (its partitions, the rollups)."""
    if day is not None:
        await pool.execute(ANALYZE_DAY, day)
    if rollups:
        await pool.execute(ANALYZE_ROLLUPS)
