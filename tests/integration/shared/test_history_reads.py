"""One package's history is a handful of index lookups, whatever the number of days kept.

Counts the index scans PostgreSQL actually runs (EXPLAIN ANALYZE, generic plan as asyncpg's
prepared statements end up using) for the series queries of shared.series.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from shared import series
from shared.db.layout import Dictionary
from shared.db.partitions import ensure_partitions, retention_cutoff
from tests.support.seed import write_rows

LAST = dt.date(2026, 11, 30)
INDEX_NODES = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


def executed_index_scans(plan: dict[str, Any]) -> int:
    """Index scan nodes that ran at least once (pruned ones show ``never executed``: 0 loops)."""
    own = int(plan["Node Type"] in INDEX_NODES and plan.get("Actual Loops", 0) > 0)
    return own + sum(executed_index_scans(child) for child in plan.get("Plans", []))


async def scans(conn: asyncpg.Connection, query: str, *args: object) -> int:
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    raw = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + query, *args)
    return executed_index_scans(json.loads(raw)[0]["Plan"])


async def fill(db: asyncpg.Pool, days: int, cutoff: dt.date) -> None:
    """``days`` days of two packages ending at LAST, partitions a month ahead, the given cutoff."""
    first = LAST - dt.timedelta(days=days - 1)
    await ensure_partitions(db, first, LAST + dt.timedelta(days=31))
    rows = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        for package, n in (("requests", 100 + i), ("other", 7)):
            rows += [
                (day, package, "overall", "with_mirrors", n + 1),
                (day, package, "overall", "without_mirrors", n),
                (day, package, "python_minor", "3.12", n),
            ]
    await write_rows(db, rows)
    await db.execute("INSERT INTO retention_state (cutoff) VALUES ($1)", cutoff)


async def test_default_window_reads_at_most_eight_partitions_and_nothing_expired(db: asyncpg.Pool) -> None:
    cutoff = retention_cutoff(LAST, 180)
    await fill(db, 240, cutoff)  # 60 days older than the window still on disk, a month ahead
    lo, hi = series.bounds(None, None)
    async with db.acquire() as conn:
        for query in (series.OVERALL_DAYS, series.CELL_DAYS, series.PACKAGE_DAYS):
            found = await scans(conn, query, "requests", lo, hi)
            assert 1 <= found <= 8, (query, found)
        points = series.flatten(await series.series_groups(conn, Dictionary(), "requests", "python_minor"))
    assert [p.day for p in points] == [cutoff + dt.timedelta(days=i) for i in range(181)]
    assert points[-1].downloads == 100 + 239


async def test_long_retention_reads_at_most_one_partition_per_month(db: asyncpg.Pool) -> None:
    cutoff = retention_cutoff(LAST, 730)
    await fill(db, 731, cutoff)
    months = 12 * (LAST.year - cutoff.year) + LAST.month - cutoff.month + 1
    lo, hi = series.bounds(None, None)
    async with db.acquire() as conn:
        found = await scans(conn, series.CELL_DAYS, "requests", lo, hi)
        ranged = await scans(conn, series.CELL_DAYS, "requests", LAST - dt.timedelta(days=29), LAST)
    assert found <= months + 1  # the month ahead is empty, but not prunable before it is read
    assert ranged <= 2
