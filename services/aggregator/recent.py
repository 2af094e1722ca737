"""Rollups derived from the package-days: ``__all__``, the package index and recent totals.

Owns the SQL that turns a day's package rows into what readers query (shared/rollups.py):

* ``__all__`` rows of a day: per dimension and category, the sum over every package;
* ``package_index``: every package with rows, with its first and last day (never ``__all__``);
* ``recent_downloads``: for every package with data in the month window (and ``__all__``),
  day = D, week = D-6..D, month = D-29..D, summed from ``overall/without_mirrors``, anchored on
  the last complete day D.

Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg

from shared.packages import ALL_PACKAGES

#: The month window: recent totals only change when a day inside it changes or the anchor moves.
MONTH_DAYS: Final = 30

DELETE_ALL = "DELETE FROM daily_downloads WHERE day = $1 AND package = $2"
INSERT_ALL = """
INSERT INTO daily_downloads (day, package, dimension, category, downloads)
SELECT $1::date, $2::text, dimension, category, sum(downloads)
FROM daily_downloads
WHERE day = $1 AND package <> $2
GROUP BY dimension, category
"""
UPSERT_INDEX = """
INSERT INTO package_index AS pi (package, first_day, last_day)
SELECT package, $1::date, $1::date FROM package_days WHERE day = $1 AND rows > 0
ON CONFLICT (package) DO UPDATE
SET first_day = LEAST(pi.first_day, EXCLUDED.first_day),
    last_day = GREATEST(pi.last_day, EXCLUDED.last_day),
    updated_at = now()
WHERE pi.first_day > EXCLUDED.first_day OR pi.last_day < EXCLUDED.last_day
"""
#: Packages a corrected run dropped from a day: recompute their span from what is left.
REINDEX_PACKAGES = """
WITH spans AS (
    SELECT package, min(day) AS first_day, max(day) AS last_day
    FROM package_days WHERE package = ANY($1::text[]) AND rows > 0
    GROUP BY package
), gone AS (
    DELETE FROM package_index
    WHERE package = ANY($1::text[]) AND package NOT IN (SELECT package FROM spans)
)
UPDATE package_index pi SET first_day = s.first_day, last_day = s.last_day, updated_at = now()
FROM spans s WHERE pi.package = s.package
"""
CLEAR_RECENT = "DELETE FROM recent_downloads"
INSERT_RECENT = """
INSERT INTO recent_downloads (package, period, downloads)
SELECT t.package, p.period,
       CASE p.period WHEN 'day' THEN t.d WHEN 'week' THEN t.w ELSE t.m END
FROM (
    SELECT package,
           coalesce(sum(downloads) FILTER (WHERE category = 'without_mirrors' AND day = $1::date), 0) AS d,
           coalesce(sum(downloads) FILTER (WHERE category = 'without_mirrors' AND day >= $1::date - 6), 0) AS w,
           coalesce(sum(downloads) FILTER (WHERE category = 'without_mirrors'), 0) AS m
    FROM daily_downloads
    WHERE dimension = 'overall' AND day BETWEEN $1::date - 29 AND $1::date
    GROUP BY package
) t CROSS JOIN (VALUES ('day'), ('week'), ('month')) AS p(period)
"""


async def compute_all(conn: asyncpg.Connection, day: dt.date) -> None:
    """Replace the ``__all__`` rows of ``day`` by the sum over every package."""
    await conn.execute(DELETE_ALL, day, ALL_PACKAGES)
    await conn.execute(INSERT_ALL, day, ALL_PACKAGES)


async def index_day(conn: asyncpg.Connection, day: dt.date, removed: list[str]) -> None:
    """Widen the spans of the day's packages; recompute the spans of packages removed from it."""
    await conn.execute(UPSERT_INDEX, day)
    if removed:
        await conn.execute(REINDEX_PACKAGES, removed)


def recent_affected(day: dt.date, old_anchor: dt.date | None, new_anchor: dt.date) -> bool:
    """True when completing ``day`` can change the recent totals."""
    if old_anchor != new_anchor:
        return True
    return new_anchor - dt.timedelta(days=MONTH_DAYS - 1) <= day <= new_anchor


async def recompute_recent(conn: asyncpg.Connection, anchor: dt.date) -> int:
    """Rebuild ``recent_downloads`` anchored on ``anchor``; returns the number of rows."""
    await conn.execute(CLEAR_RECENT)
    status: str = await conn.execute(INSERT_RECENT, anchor)
    return int(status.rsplit(" ", 1)[-1])
