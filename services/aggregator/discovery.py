"""The discovery lists, computed when a day completes (what they mean: shared/discovery.py).

Owns two steps of a day's completion (services/aggregator/complete.py), each inside its
transaction:

* :func:`record_day`: the completed day's narrow rows of ``trend_days`` (downloads without mirrors
  and CI downloads per package), replaced whole, and the day marked in ``trend_days_done``;
* :func:`rebuild`: every list of ``discovery_lists`` anchored on the last complete day D, from
  ``trend_days`` (trending: D-55..D; new and rising), ``package_index`` (first seen) and the open
  package-days of the last 28 days (top by a dimension's category, for the most downloaded
  packages only); ``trend_days`` older than D-55 are deleted.

Idempotent, so a re-completed day or a replay converges: :func:`record_day` is a pure function of
the day's committed package-days (a corrected run replaces them, and the day's rows with them),
and :func:`rebuild` a pure function of the committed tables and D, never of which completion
triggered it; it replaces every list whole. It runs after every completion (a day older than the
windows may still change "new"), deferred in a burst exactly like the recent totals
(complete.py), and under the same advisory lock, so replicas serialise.

Cost: ``record_day`` reads one day's package-days (their ``details`` for the CI count); ``rebuild``
sums 56 narrow rows per package with downloads and unnests 28 days of cells of
:data:`~shared.discovery.TOP_CANDIDATES` packages (not measured at PyPI's size yet).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from shared import discovery
from shared.discovery import Windows
from shared.packages import ALL_PACKAGES

CLEAR_DAY = "DELETE FROM trend_days WHERE day = $1"
RECORD_DAY = """
INSERT INTO trend_days (day, package, downloads, ci)
SELECT d.day, d.package, d.without_mirrors,
       coalesce((SELECT sum(cell_downloads(x)) FROM unnest(d.details) AS x
                 WHERE cell_category(x) = (SELECT id FROM categories WHERE dimension = 'ci' AND category = 'true')), 0)
FROM downloads_days d
WHERE d.day = $1 AND d.without_mirrors > 0 AND d.package <> $2
"""
MARK_DONE = "INSERT INTO trend_days_done (day) VALUES ($1) ON CONFLICT DO NOTHING"
TRIM = "DELETE FROM trend_days WHERE day < $1"
TRIM_DONE = "DELETE FROM trend_days_done WHERE day < $1"
LAST_COMPLETE_DAY = "SELECT max(day) FROM ingest_days"
#: Days of D-55..D recorded (trending needs all 56).
DONE_IN = "SELECT count(*) FROM trend_days_done WHERE day BETWEEN $1 AND $2"
FIRST_DAY = "SELECT min(day) FROM ingest_days"
#: Growing packages large enough before, fastest growth first (the CI test and the cut in Python).
WINDOWS = """
SELECT package,
       coalesce(sum(downloads) FILTER (WHERE day <= $2), 0)::bigint AS earlier,
       coalesce(sum(downloads) FILTER (WHERE day > $2), 0)::bigint AS recent,
       coalesce(sum(ci) FILTER (WHERE day <= $2), 0)::bigint AS earlier_ci,
       coalesce(sum(ci) FILTER (WHERE day > $2), 0)::bigint AS recent_ci
FROM trend_days
WHERE day BETWEEN $1 AND $3
GROUP BY package
HAVING coalesce(sum(downloads) FILTER (WHERE day <= $2), 0) >= $4
   AND coalesce(sum(downloads) FILTER (WHERE day > $2), 0) > coalesce(sum(downloads) FILTER (WHERE day <= $2), 0)
ORDER BY sum(downloads) FILTER (WHERE day > $2)::numeric / sum(downloads) FILTER (WHERE day <= $2) DESC,
         sum(downloads) FILTER (WHERE day > $2) DESC, package
"""
NEW = """
SELECT i.package, i.first_day,
       coalesce(sum(t.downloads) FILTER (WHERE t.day > $2), 0)::bigint AS recent,
       coalesce(sum(t.downloads) FILTER (WHERE t.day <= $2), 0)::bigint AS earlier
FROM package_index i JOIN trend_days t ON t.package = i.package AND t.day BETWEEN $1 AND $3
WHERE i.first_day > $3 - $4::int AND i.package <> $5
GROUP BY i.package, i.first_day
HAVING coalesce(sum(t.downloads) FILTER (WHERE t.day > $2), 0) > 0
ORDER BY recent DESC, i.package
LIMIT $6
"""
#: Per candidate package (the most downloaded of the window) and category of the dimensions:
#: its downloads over the window, from the open package-days (the last 30 days are never compacted).
TOP_COUNTS = """
WITH top AS (
    SELECT package FROM trend_days WHERE day BETWEEN $1 AND $2 AND package <> $3
    GROUP BY package ORDER BY sum(downloads) DESC, package LIMIT $4
), counts AS (
    SELECT d.package, cell_category(x) AS id, sum(cell_downloads(x))::bigint AS downloads
    FROM downloads_days d JOIN top ON top.package = d.package
    CROSS JOIN LATERAL unnest(d.cells || d.details) AS x
    WHERE d.day BETWEEN $1 AND $2
    GROUP BY 1, 2
)
SELECT counts.package, c.dimension, c.category, counts.downloads
FROM counts JOIN categories c ON c.id = counts.id
WHERE c.dimension = ANY($5::text[])
"""
CLEAR_LISTS = "DELETE FROM discovery_lists"
INSERT_LIST = """
INSERT INTO discovery_lists (list, dimension, category, by, position, day, entries)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
"""
#: First key of the advisory lock shared with the recent totals' rebuild (services/aggregator/recent.py).
LOCK = "SELECT pg_advisory_xact_lock($1::int, 0)"


def affected(day: dt.date, anchor: dt.date) -> bool:
    """True when completing ``day`` can change the lists anchored on ``anchor``: any day up to it,
    since a day older than the windows can still move a package's first day (and so "new") or
    the first day on record (whether "new" can be told at all)."""
    return day <= anchor


async def record_day(conn: asyncpg.Connection, day: dt.date) -> None:
    """Replace ``day``'s rows of ``trend_days`` by its committed package-days."""
    await conn.execute(CLEAR_DAY, day)
    await conn.execute(RECORD_DAY, day, ALL_PACKAGES)
    await conn.execute(MARK_DONE, day)


async def _trending(conn: asyncpg.Connection, anchor: dt.date) -> list[dict[str, Any]]:
    first = anchor - dt.timedelta(days=discovery.TREND_DAYS - 1)
    if await conn.fetchval(DONE_IN, first, anchor) < discovery.TREND_DAYS:
        return []
    middle = anchor - dt.timedelta(days=discovery.WINDOW_DAYS)
    kept: list[Windows] = []
    cursor = conn.cursor(WINDOWS, first, middle, anchor, discovery.MIN_EARLIER_DOWNLOADS)
    async for r in cursor:
        w = Windows(r["package"], r["earlier"], r["recent"], r["earlier_ci"], r["recent_ci"])
        if discovery.trends(w):
            kept.append(w)
            if len(kept) >= discovery.LIST_SIZE:
                break
    return discovery.rank_trending(kept)


async def _new(conn: asyncpg.Connection, anchor: dt.date) -> list[dict[str, Any]]:
    first_day: dt.date | None = await conn.fetchval(FIRST_DAY)
    if first_day is None or first_day > anchor - dt.timedelta(days=discovery.NEW_DAYS):
        return []  # the history is too short to tell a new package from an old one
    first = anchor - dt.timedelta(days=discovery.TREND_DAYS - 1)
    middle = anchor - dt.timedelta(days=discovery.WINDOW_DAYS)
    rows = await conn.fetch(NEW, first, middle, anchor, discovery.NEW_DAYS, ALL_PACKAGES, discovery.LIST_SIZE)
    return [
        {
            "rank": i,
            "package": r["package"],
            "first_day": r["first_day"].isoformat(),
            "downloads_recent": r["recent"],
            "downloads_earlier": r["earlier"],
        }
        for i, r in enumerate(rows, start=1)
    ]


async def rebuild(conn: asyncpg.Connection, recent_lock_class: int) -> dt.date | None:
    """Replace every list by those anchored on the last complete day; returns that day."""
    await conn.execute(LOCK, recent_lock_class)
    anchor: dt.date | None = await conn.fetchval(LAST_COMPLETE_DAY)
    await conn.execute(CLEAR_LISTS)
    if anchor is None:
        return None
    oldest = anchor - dt.timedelta(days=discovery.TREND_DAYS - 1)
    await conn.execute(TRIM, oldest)
    await conn.execute(TRIM_DONE, oldest)
    await _insert(conn, "trending", "", "", "", 0, anchor, await _trending(conn, anchor))
    await _insert(conn, "new", "", "", "", 0, anchor, await _new(conn, anchor))
    window_start = anchor - dt.timedelta(days=discovery.WINDOW_DAYS - 1)
    counts = await conn.fetch(
        TOP_COUNTS, window_start, anchor, ALL_PACKAGES, discovery.TOP_CANDIDATES, list(discovery.DIMENSIONS)
    )
    lists = discovery.rank_top((r["package"], r["dimension"], r["category"], r["downloads"]) for r in counts)
    for position, ((dimension, category, order), entries) in enumerate(lists.items()):
        await _insert(conn, "top", dimension, category, order, position, anchor, entries)
    return anchor


async def _insert(
    conn: asyncpg.Connection,
    name: str,
    dimension: str,
    category: str,
    order: str,
    position: int,
    anchor: dt.date,
    entries: list[dict[str, Any]],
) -> None:
    await conn.execute(
        INSERT_LIST, name, dimension, category, order, position, anchor, json.dumps(entries, sort_keys=True)
    )
