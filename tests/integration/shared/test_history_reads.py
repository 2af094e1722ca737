"""One package's history is a handful of index lookups: at most one per year kept plus one for
the open days, whatever the number of days kept.

Counts the index scans PostgreSQL actually runs (EXPLAIN ANALYZE, generic plan as asyncpg's
prepared statements end up using) for the series queries of shared.series, on open days and
compacted months written the way the aggregator writes them (tests.support.seed compacts the
due months), and checks that the numbers read back are the numbers written.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from shared import bins, series
from shared.db.layout import Dictionary
from shared.db.partitions import ensure_partitions, retention_cutoff
from shared.packages import ALL_PACKAGES
from tests.support.seed import Row, seed, write_rows

LAST = dt.date(2026, 11, 30)
INDEX_NODES = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


def executed_index_scans(plan: dict[str, Any]) -> int:
    """Index scan nodes that ran at least once (pruned ones show ``never executed``: 0 loops)."""
    own = int(plan["Node Type"] in INDEX_NODES and plan.get("Actual Loops", 0) > 0)
    return own + sum(executed_index_scans(child) for child in plan.get("Plans", []))


def heap_reads(plan: dict[str, Any]) -> int:
    """Heap pages an executed plan visited: plain index scans' rows, index-only scans' heap fetches."""
    own = 0
    if plan.get("Actual Loops", 0) > 0:
        if plan["Node Type"] == "Index Scan":
            own = int(plan["Actual Rows"]) or 1
        elif plan["Node Type"] == "Index Only Scan":
            own = int(plan["Heap Fetches"])
    return own + sum(heap_reads(child) for child in plan.get("Plans", []))


async def explain(conn: asyncpg.Connection, query: str, *args: object) -> dict[str, Any]:
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    raw = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + query, *args)
    plan: dict[str, Any] = json.loads(raw)[0]["Plan"]
    return plan


async def scans(conn: asyncpg.Connection, query: str, *args: object) -> int:
    return executed_index_scans(await explain(conn, query, *args))


def rows_of(days: int) -> list[Row]:
    """``days`` days of two packages ending at LAST; requests has 100 + i downloads on day i."""
    first = LAST - dt.timedelta(days=days - 1)
    rows: list[Row] = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        for package, n in (("requests", 100 + i), ("other", 7)):
            rows += [
                (day, package, "overall", "with_mirrors", n + 1),
                (day, package, "overall", "without_mirrors", n),
                (day, package, "python_minor", "3.12", n),
                (day, package, "python_minor", "3.11", i % 3),  # absent one day in three
            ]
    return rows


async def fill(db: asyncpg.Pool, days: int, cutoff: dt.date | None) -> None:
    """The rows, compacted as the aggregator would, year partitions a year ahead, the given cutoff."""
    await ensure_partitions(db, LAST, LAST + dt.timedelta(days=366))
    await seed(db, rows_of(days))
    if cutoff is not None:
        await db.execute("INSERT INTO retention_state (cutoff) VALUES ($1)", cutoff)
    assert await db.fetchval("SELECT count(*) FROM downloads_months WHERE package = 'requests'") > 0


async def test_default_window_is_at_most_three_lookups_and_nothing_expired(db: asyncpg.Pool) -> None:
    cutoff = retention_cutoff(LAST, 180)
    await fill(db, 400, cutoff)  # 220 days older than the window still on disk, compacted
    window = series.bounds(LAST - dt.timedelta(days=180), LAST)  # the API's default window
    async with db.acquire() as conn:
        for query in (series.OVERALL_DAYS, series.CELL_DAYS, series.PACKAGE_DAYS):
            found = await scans(conn, query, "requests", *window)
            assert 1 <= found <= 3, (query, found)
        names = Dictionary()
        points = series.flatten(await series.series_groups(conn, names, "requests", "python_minor", "3.12"))
        sparse = series.flatten(await series.series_groups(conn, names, "requests", "python_minor", "3.11"))
        overall = await series.series_groups(conn, names, "requests", "overall")
    assert [p.day for p in points] == [cutoff + dt.timedelta(days=i) for i in range(181)]
    assert [p.downloads for p in points] == [100 + 219 + i for i in range(181)]
    first = LAST - dt.timedelta(days=399)
    assert [(p.day, p.downloads) for p in sparse] == [
        (d, (d - first).days % 3)
        for d in (cutoff + dt.timedelta(days=i) for i in range(181))
        if (d - first).days % 3
    ]
    assert [c for c, _ in overall] == ["with_mirrors", "without_mirrors"]
    assert overall[1][1][0] == (cutoff, 100 + 219) and overall[0][1][-1] == (LAST, 100 + 399 + 1)


async def test_ten_years_are_at_most_twelve_lookups(db: asyncpg.Pool) -> None:
    await fill(db, 3650, None)  # 2016-12-04 .. 2026-11-30: eleven calendar years
    window = series.bounds(None, LAST)  # readers end at the last complete day
    async with db.acquire() as conn:
        for query in (series.OVERALL_DAYS, series.CELL_DAYS, series.PACKAGE_DAYS):
            found = await scans(conn, query, "requests", *window)
            assert found <= 12, (query, found)
        # an open end also visits next year's partition, created ahead and still empty
        assert await scans(conn, series.CELL_DAYS, "requests", *series.bounds(None, None)) <= 13
        ranged = await scans(
            conn, series.CELL_DAYS, "requests", *series.bounds(LAST - dt.timedelta(days=29), LAST)
        )
        groups = await series.series_groups(conn, Dictionary(), "requests", "overall", "without_mirrors")
        page = await series.series_window(conn, Dictionary(), "requests", None, None)
    assert ranged <= 2
    days = groups[0][1]
    assert len(days) == 3650 and days[0] == (LAST - dt.timedelta(days=3649), 100)
    assert days == [(LAST - dt.timedelta(days=3649 - i), 100 + i) for i in range(3650)]
    assert sum(p.downloads for p in page["python_minor"] if p.category == "3.12") == sum(
        100 + i for i in range(3650)
    )


async def test_month_and_year_sums_from_the_months_sums_equal_the_days_summed(db: asyncpg.Pool) -> None:
    """``monthly`` reads take a compacted month from its sums only when that is exact: every
    package-day of the month inside the read, and no open day replacing one (a late re-ingest)."""
    cutoff = dt.date(2026, 1, 17)  # mid-month: January's first days are hidden, still on disk
    await fill(db, 400, cutoff)
    reingested = dt.date(2026, 5, 9)  # in a compacted month: the open day replaces it whole
    assert await db.fetchval("SELECT count(*) FROM downloads_months WHERE month = '2026-05-01'") > 0
    await write_rows(
        db,
        [
            (reingested, "requests", "overall", "with_mirrors", 5),
            (reingested, "requests", "overall", "without_mirrors", 3),
        ],
    )
    windows = [
        (None, LAST),
        (dt.date(2026, 2, 1), dt.date(2026, 6, 30)),
        (dt.date(2026, 3, 15), dt.date(2026, 8, 20)),  # both ends mid-month
        (dt.date(2025, 6, 1), dt.date(2026, 1, 31)),  # before the cutoff: clipped to it
    ]
    async with db.acquire() as conn:
        names = Dictionary()
        for package in ("requests", ALL_PACKAGES):
            for start, end in windows:
                for category in (None, "without_mirrors"):
                    args = (conn, names, package, "overall", category, start, end)
                    days = await series.series_matrix(*args)
                    sums = await series.series_matrix(*args, monthly=True)
                    lo = max(start or cutoff, cutoff)
                    for bin in ("month", "year"):
                        expected = bins.binned(days.groups(), bin, lo, end)
                        assert bins.binned(sums.groups(), bin, lo, end) == expected, (package, start, bin)
        may = await series.series_matrix(
            conn,
            names,
            "requests",
            "overall",
            "with_mirrors",
            dt.date(2026, 5, 1),
            dt.date(2026, 5, 31),
            monthly=True,
        )
    may_days = [n for _, n in may.groups()[0][1]]
    first = LAST - dt.timedelta(days=399)
    assert (
        sum(may_days)
        == sum(
            100 + (d - first).days + 1 for d in (dt.date(2026, 5, k) for k in range(1, 32)) if d != reingested
        )
        + 5
    )
