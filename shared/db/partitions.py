"""Year partitions of ``downloads_months``: create ahead, drop what retention no longer keeps.

Owns the name of the partitioned table and thin wrappers over the SQL functions of migration
0009 (identifiers are quoted inside PostgreSQL with ``format(%I)``), and the retention rule. The
open days (``downloads_days``) are one table, not partitioned: a package's open days are one
index lookup, and compaction moves them out (shared/db/compaction.py).
"""

from __future__ import annotations

import datetime as dt

import asyncpg

PARTITIONED_TABLE = "downloads_months"


def month_of(day: dt.date) -> dt.date:
    """The first day of ``day``'s month (the key of its compacted row)."""
    return day.replace(day=1)


async def ensure_partitions(conn: asyncpg.Connection | asyncpg.Pool, first: dt.date, last: dt.date) -> int:
    """Create the missing year partitions covering ``first..last``; returns how many were created.

    Another process creating the same partition at the same moment makes CREATE fail with a
    duplicate, which means it exists: the call is then repeated once.
    """
    try:
        return int(
            await conn.fetchval("SELECT ensure_year_partitions($1, $2, $3)", PARTITIONED_TABLE, first, last)
        )
    except (asyncpg.DuplicateTableError, asyncpg.UniqueViolationError):
        return int(
            await conn.fetchval("SELECT ensure_year_partitions($1, $2, $3)", PARTITIONED_TABLE, first, last)
        )


async def drop_partitions_before(conn: asyncpg.Connection | asyncpg.Pool, cutoff: dt.date) -> int:
    """Drop every year partition whose days are all before ``cutoff``; returns how many."""
    return int(await conn.fetchval("SELECT drop_year_partitions_before($1, $2)", PARTITIONED_TABLE, cutoff))


def retention_cutoff(last_complete_day: dt.date, retention_days: int | None) -> dt.date:
    """The oldest day kept: ``D - retention_days`` (181 dates for 180); every day (date.min) when
    retention is unset."""
    if retention_days is None:
        return dt.date.min
    return last_complete_day - dt.timedelta(days=retention_days)
