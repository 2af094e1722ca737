"""Day partitions of the partitioned tables: create ahead, drop what retention no longer keeps.

Owns the list of day-partitioned tables and thin wrappers over the SQL functions created by
migration 0001 (identifiers are quoted inside PostgreSQL with ``format(%I)``).
"""

from __future__ import annotations

import datetime as dt

import asyncpg

PARTITIONED_TABLES = ("daily_downloads", "package_days")


async def ensure_partitions(conn: asyncpg.Connection | asyncpg.Pool, first: dt.date, last: dt.date) -> int:
    """Create the missing day partitions ``first..last`` of every partitioned table."""
    created = 0
    for table in PARTITIONED_TABLES:
        created += await conn.fetchval("SELECT ensure_day_partitions($1, $2, $3)", table, first, last)
    return created


async def drop_partitions_before(conn: asyncpg.Connection | asyncpg.Pool, cutoff: dt.date) -> int:
    """Drop every day partition strictly older than ``cutoff``; returns how many were dropped."""
    dropped = 0
    for table in PARTITIONED_TABLES:
        dropped += await conn.fetchval("SELECT drop_day_partitions_before($1, $2)", table, cutoff)
    return dropped


def retention_cutoff(last_complete_day: dt.date, retention_days: int) -> dt.date:
    """The oldest day kept: ``D - retention_days`` (181 dates for the default of 180)."""
    return last_complete_day - dt.timedelta(days=retention_days)
