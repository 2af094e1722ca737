"""The numbers badges show, read from PostgreSQL (a thin shell over shared.rollups, shared.series
and shared.rank).

Owns which stored numbers a :class:`~services.api.badge_params.BadgeQuery` counts, anchored on
the last complete day D: without ``who`` and ``version``, the downloads without mirrors of the
recent totals (day, week, month: what the badge always counted) or, for ``year`` and ``total``,
summed from the history store (D-364..D, every day kept); ``who=people``, the overall category
``people`` over the same days; ``version``, the version dimension's categories that match
(exactly, or by prefix for ``2.*``); ``metric=rank``, the package's rank and percentile by last
month's downloads (shared.rank).
"""

from __future__ import annotations

import datetime as dt

from services.api.badge_params import BadgeQuery
from shared import rank, rollups, series
from shared.db.layout import OVERALL, WITHOUT_MIRRORS, Conn, Dictionary
from shared.totals import PERIOD_DAYS

PEOPLE = "people"


def first_day(period: str, anchor: dt.date) -> dt.date | None:
    """The first day a period ending on ``anchor`` covers (None: all time)."""
    if period == "total":
        return None
    return anchor - dt.timedelta(days=PERIOD_DAYS[period] - 1)


async def downloads(
    conn: Conn, names: Dictionary, package: str, query: BadgeQuery, anchor: dt.date | None
) -> int:
    """The download count of the badge (0 before any day is complete)."""
    if anchor is None:
        return 0
    if not query.people and query.version is None and query.period in rollups.PERIODS:
        return (await rollups.recent(conn, package))[query.period]
    start = first_day(query.period, anchor)
    if query.version is not None:
        groups = await series.series_groups(conn, names, package, "version", None, start, anchor)
        return sum(n for version, days in groups if query.counts_version(version) for _, n in days)
    category = PEOPLE if query.people else WITHOUT_MIRRORS
    groups = await series.series_groups(conn, names, package, OVERALL, category, start, anchor)
    return sum(n for _, days in groups for _, n in days)


async def package_rank(conn: Conn, package: str, query: BadgeQuery) -> rank.Rank | None:
    """The package's rank by last month's downloads (by people with ``who=people``)."""
    return await rank.package_rank(conn, package, people=query.people)
