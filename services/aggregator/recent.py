"""Rollups derived from the package-days: ``__all__``, the package index and recent totals.

Owns the SQL that turns a day's package rows into what readers query (shared/rollups.py):

* ``__all__`` of a day (``downloads_all``): per dimension and category, the sum over every package;
* ``package_index``: every package with rows, with its first and last day (never ``__all__``);
* ``recent_downloads``: for every package with data in the month window (and ``__all__``),
  day = D, week = D-6..D, month = D-29..D, summed from ``overall/without_mirrors`` (the
  ``downloads_days.without_mirrors`` column), anchored on the last complete day D, and
  ``people_month``, the month's downloads by people (for the rank by people: shared.rank);
  ``recent_state`` records whether a rebuild was deferred (see complete.py).

Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg

from shared.packages import ALL_PACKAGES

#: The month window: recent totals only change when a day inside it changes or the anchor moves.
MONTH_DAYS: Final = 30
#: First key of the advisory lock that serialises rebuilds of recent_downloads.
RECENT_LOCK_CLASS: Final = 4_240_405

DELETE_ALL = "DELETE FROM downloads_all WHERE day = $1"
#: The day's sums over every package: overall columns summed, cells summed per category id, in
#: ``cells`` and ``details`` alike (no versions: those of different packages are unrelated); no
#: row when the day has no package-day.
INSERT_ALL = """
WITH day_rows AS (
    SELECT with_mirrors, without_mirrors, people, cells, details FROM downloads_days WHERE day = $1
), sums AS (
    SELECT cell_category(x) AS category, sum(cell_downloads(x)) AS downloads
    FROM day_rows CROSS JOIN LATERAL unnest(day_rows.cells) AS x
    GROUP BY 1
), detail_sums AS (
    SELECT cell_category(x) AS category, sum(cell_downloads(x)) AS downloads
    FROM day_rows CROSS JOIN LATERAL unnest(day_rows.details) AS x
    GROUP BY 1
)
INSERT INTO downloads_all (day, run, with_mirrors, without_mirrors, people, cells, details)
SELECT $1, (SELECT id FROM ingest_runs WHERE run_id = $2), sum(with_mirrors), sum(without_mirrors), sum(people),
       coalesce((SELECT array_agg(make_cell(category, downloads::bigint) ORDER BY category) FROM sums), '{}'),
       coalesce((SELECT array_agg(make_cell(category, downloads::bigint) ORDER BY category) FROM detail_sums), '{}')
FROM day_rows
HAVING count(*) > 0
"""
#: Only packages the index does not cover on that day yet (new ones, or spans to widen): re-completing a
#: day touches no row, and unchanged rows are not locked.
UPSERT_INDEX = """
INSERT INTO package_index AS pi (package, first_day, last_day)
SELECT d.package, $1::date, $1::date FROM downloads_days d
WHERE d.day = $1 AND (d.with_mirrors > 0 OR d.without_mirrors > 0 OR cardinality(d.cells) > 0)
  AND NOT EXISTS (
      SELECT 1 FROM package_index x WHERE x.package = d.package AND x.first_day <= $1 AND x.last_day >= $1)
ON CONFLICT (package) DO UPDATE
SET first_day = LEAST(pi.first_day, EXCLUDED.first_day),
    last_day = GREATEST(pi.last_day, EXCLUDED.last_day),
    updated_at = now()
WHERE pi.first_day > EXCLUDED.first_day OR pi.last_day < EXCLUDED.last_day
"""
#: Packages a corrected run dropped from a day: recompute their span from what readers still see,
#: open days and compacted months (a month's first and last day from its ``days`` bitmap).
REINDEX_PACKAGES = """
WITH open_days AS (
    SELECT package, day FROM downloads_days d
    WHERE package = ANY($1::text[]) AND day >= visible_from('-infinity')
      AND (d.with_mirrors > 0 OR d.without_mirrors > 0 OR cardinality(d.cells) > 0)
), month_days AS (
    SELECT m.package, m.month + b AS day
    FROM downloads_months m CROSS JOIN LATERAL generate_series(0, 30) AS b
    WHERE m.package = ANY($1::text[]) AND m.month >= date_trunc('month', visible_from('-infinity'))
      AND m.days & (1 << b) <> 0
      AND NOT EXISTS (SELECT 1 FROM downloads_days t WHERE t.package = m.package AND t.day = m.month + b)
), spans AS (
    SELECT package, min(day) AS first_day, max(day) AS last_day
    FROM (SELECT * FROM open_days UNION ALL SELECT * FROM month_days) AS every_day
    WHERE day >= visible_from('-infinity')
    GROUP BY package
), gone AS (
    DELETE FROM package_index
    WHERE package = ANY($1::text[]) AND package NOT IN (SELECT package FROM spans)
)
UPDATE package_index pi SET first_day = s.first_day, last_day = s.last_day, updated_at = now()
FROM spans s WHERE pi.package = s.package
"""
CLEAR_RECENT = "DELETE FROM recent_downloads"
#: Summed from ``downloads_days.without_mirrors`` (compaction leaves the last 30 days open,
#: shared/db/compaction.py COMPACT_AFTER_DAYS); a package has recent rows exactly when it has a
#: non-zero overall count in the window; ``__all__`` is the sum over every package (the same numbers its
#: daily rows hold, since those are that sum too).
INSERT_RECENT = """
WITH t AS (
    SELECT package,
           coalesce(sum(without_mirrors) FILTER (WHERE day = $1::date), 0) AS d,
           coalesce(sum(without_mirrors) FILTER (WHERE day >= $1::date - 6), 0) AS w,
           sum(without_mirrors) AS m,
           sum(people) AS pm
    FROM downloads_days
    WHERE day BETWEEN $1::date - 29 AND $1::date AND (with_mirrors > 0 OR without_mirrors > 0)
    GROUP BY package
), totals AS (
    SELECT * FROM t
    UNION ALL
    SELECT $2::text, sum(d), sum(w), sum(m), sum(pm) FROM t HAVING count(*) > 0
)
INSERT INTO recent_downloads (package, period, downloads)
SELECT package, p.period, CASE p.period WHEN 'day' THEN d WHEN 'week' THEN w WHEN 'month' THEN m ELSE pm END
FROM totals CROSS JOIN (VALUES ('day'), ('week'), ('month'), ('people_month')) AS p(period)
"""
#: Serialises rebuilds of recent_downloads (replicas completing different days, deferred flushes).
RECENT_LOCK = "SELECT pg_advisory_xact_lock($1::int, 0)"
LAST_COMPLETE_DAY = "SELECT max(day) FROM ingest_days"
RECENT_STATE = "SELECT anchor, stale FROM recent_state WHERE id"
MARK_STALE = """
INSERT INTO recent_state (id, anchor, stale) VALUES (true, NULL, true)
ON CONFLICT (id) DO UPDATE SET stale = true
"""
MARK_BUILT = """
INSERT INTO recent_state (id, anchor, stale, built_at) VALUES (true, $1, false, now())
ON CONFLICT (id) DO UPDATE SET anchor = EXCLUDED.anchor, stale = false, built_at = now()
"""


async def compute_all(conn: asyncpg.Connection, day: dt.date, run_id: str) -> None:
    """Replace the ``__all__`` row of ``day`` by the sum over every package."""
    await conn.execute(DELETE_ALL, day)
    await conn.execute(INSERT_ALL, day, run_id)


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


async def recompute_recent(conn: asyncpg.Connection) -> dt.date | None:
    """Rebuild ``recent_downloads`` on the last complete day and mark it fresh; returns that day.

    The anchor is read after taking the rebuild lock, so a rebuild never overwrites one made by
    another replica for a later day with totals anchored on an earlier one.
    """
    await conn.execute(RECENT_LOCK, RECENT_LOCK_CLASS)
    anchor: dt.date | None = await conn.fetchval(LAST_COMPLETE_DAY)
    await conn.execute(CLEAR_RECENT)
    if anchor is not None:
        await conn.execute(INSERT_RECENT, anchor, ALL_PACKAGES)
    await conn.execute(MARK_BUILT, anchor)
    return anchor


async def mark_stale(conn: asyncpg.Connection) -> None:
    """Record that recent_downloads lags behind the complete days (a deferred rebuild).

    Taken under the rebuild lock: a rebuild running meanwhile either finishes first (and this mark
    survives it) or starts after this commit (and sees this day).
    """
    await conn.execute(RECENT_LOCK, RECENT_LOCK_CLASS)
    await conn.execute(MARK_STALE)


async def is_stale(conn: asyncpg.Connection | asyncpg.Pool) -> bool:
    """True when a deferred rebuild is owed (or the state row is missing)."""
    row = await conn.fetchrow(RECENT_STATE)
    return row is None or bool(row["stale"])
