"""Discovery lists: trending, new and rising, and the top packages by a dimension's category.

Owns what the lists mean (the constants and the plain-words method of each, shown on the web page
and in the API), the pure ranking rules (:func:`ci_burst`, :func:`rank_trending`,
:func:`rank_top`) and the read of a stored list. The aggregator computes the lists when a day
completes (services/aggregator/discovery.py) into ``discovery_lists`` (migration 0013); the api
and web only read that small table, so no request scans the days of every package.

The numbers are downloads without mirrors, as everywhere else; a package's CI downloads are those
that ``details.ci`` marks ``true``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, TypeAlias

import asyncpg

Conn: TypeAlias = "asyncpg.Pool | asyncpg.Connection"

#: Each window: the last 28 complete days (four whole weeks, so weekends weigh the same in both).
WINDOW_DAYS: Final = 28
#: Trending compares the last window with the one before it: 56 complete days in all.
TREND_DAYS: Final = 2 * WINDOW_DAYS
#: A package trends only with at least this many downloads in the earlier window (about 36 a day):
#: below that, relative growth is noise (3 downloads becoming 30).
MIN_EARLIER_DOWNLOADS: Final = 1000
#: Growth is a CI burst when more than this part of the gain is CI downloads ...
CI_GAIN_PART: Final = Fraction(1, 2)
#: ... or when CI's share of the package's downloads rose by more than this (25 points).
CI_SHARE_JUMP: Final = Fraction(1, 4)
#: "New": first seen within this many days (the last complete day included).
NEW_DAYS: Final = 90
#: The top by a dimension's category ranks the packages most downloaded over the window.
TOP_CANDIDATES: Final = 1000
#: Categories of each dimension with their own lists: the largest ones over those candidates.
TOP_CATEGORIES: Final = 12
#: Entries kept per list (the API's largest ``limit``).
LIST_SIZE: Final = 100
DIMENSIONS: Final = ("installer", "python_minor", "system", "file_type", "country", "ci")
LISTS: Final = ("trending", "new", "top")
ORDERS: Final = ("downloads", "share")

METHODS: Final = {
    "trending": (
        f"Downloads of the last {WINDOW_DAYS} complete days against the {WINDOW_DAYS} days before, "
        "ranked by relative growth. Only packages with at least "
        f"{MIN_EARLIER_DOWNLOADS:,} downloads in the earlier {WINDOW_DAYS} days are ranked. "
        "A rise that looks like a CI burst is left out: when more than half of the added "
        "downloads come from CI, or when CI's share of the package's downloads rose by more "
        "than 25 points."
    ),
    "new": (
        f"Packages first seen within the last {NEW_DAYS} days, ranked by their downloads in the "
        f"last {WINDOW_DAYS} complete days. Shown once the history reaches back {NEW_DAYS} days, "
        "so that a package is only called new when it could have been seen before."
    ),
    "top": (
        f"Among the {TOP_CANDIDATES:,} packages with most downloads in the last {WINDOW_DAYS} "
        "complete days: those with most downloads in the chosen category, or with the largest "
        "share of their downloads in it (the share is of the package's downloads counted by that "
        "dimension: every download for the installer, downloads without mirrors otherwise). "
        f"The {TOP_CATEGORIES} largest categories of each dimension have a list."
    ),
}


@dataclass(frozen=True)
class Windows:
    """A package's downloads (and CI downloads) in the earlier and the recent window."""

    package: str
    earlier: int
    recent: int
    earlier_ci: int
    recent_ci: int


def ci_burst(w: Windows) -> bool:
    """Whether a rise looks like a CI burst: more than :data:`CI_GAIN_PART` of the gain is CI
    downloads, or CI's share rose by more than :data:`CI_SHARE_JUMP` (exact fractions: the
    boundaries themselves are not bursts)."""
    gain = w.recent - w.earlier
    if gain <= 0:
        return False
    if w.recent_ci - w.earlier_ci > CI_GAIN_PART * gain:
        return True
    earlier_share = Fraction(w.earlier_ci, w.earlier) if w.earlier else Fraction(0)
    recent_share = Fraction(w.recent_ci, w.recent)
    return recent_share - earlier_share > CI_SHARE_JUMP


def trends(w: Windows) -> bool:
    """Whether a package may be listed as trending: large enough before, growing, not CI."""
    return w.earlier >= MIN_EARLIER_DOWNLOADS and w.recent > w.earlier and not ci_burst(w)


def rank_trending(candidates: Iterable[Windows], size: int = LIST_SIZE) -> list[dict[str, Any]]:
    """The trending entries: by relative growth, then recent downloads, then name."""
    kept = [w for w in candidates if trends(w)]
    kept.sort(key=lambda w: (-Fraction(w.recent, w.earlier), -w.recent, w.package))
    return [
        {
            "rank": i,
            "package": w.package,
            "downloads_earlier": w.earlier,
            "downloads_recent": w.recent,
            "growth": round((w.recent - w.earlier) / w.earlier, 4),
            "ci_earlier": w.earlier_ci,
            "ci_recent": w.recent_ci,
        }
        for i, w in enumerate(kept[:size], start=1)
    ]


def rank_top(
    counts: Iterable[tuple[str, str, str, int]], size: int = LIST_SIZE, categories: int = TOP_CATEGORIES
) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """The lists ``(dimension, category, order) -> entries`` from ``(package, dimension, category,
    downloads)`` of the candidates: per dimension its ``categories`` largest categories, each
    ranked by downloads and by share of the package's downloads in the dimension."""
    totals: dict[tuple[str, str], int] = {}
    by_category: dict[tuple[str, str], dict[str, int]] = {}
    for package, dimension, category, n in counts:
        if n <= 0:
            continue
        totals[(package, dimension)] = totals.get((package, dimension), 0) + n
        by_category.setdefault((dimension, category), {})[package] = n
    largest: dict[str, list[tuple[int, str]]] = {}
    for (dimension, category), packages in by_category.items():
        largest.setdefault(dimension, []).append((sum(packages.values()), category))
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for dimension, found in largest.items():
        for _, category in sorted(found, key=lambda x: (-x[0], x[1]))[:categories]:
            rows = [
                (p, n, totals[(p, dimension)], Fraction(n, totals[(p, dimension)]))
                for p, n in by_category[(dimension, category)].items()
            ]
            orders = {
                "downloads": sorted(rows, key=lambda r: (-r[1], r[0])),
                "share": sorted(rows, key=lambda r: (-r[3], -r[1], r[0])),
            }
            for order, ranked in orders.items():
                out[(dimension, category, order)] = [
                    {"rank": i, "package": p, "downloads": n, "total": t, "share": round(float(s), 4)}
                    for i, (p, n, t, s) in enumerate(ranked[:size], start=1)
                ]
    return out


# -- reading -------------------------------------------------------------------------------

READ_LIST = """
SELECT day, entries FROM discovery_lists
WHERE list = $1 AND dimension = $2 AND category = $3 AND by = $4
"""
#: The categories of a dimension that have a top list, largest first (as they were ranked).
CATEGORIES = """
SELECT category FROM discovery_lists
WHERE list = 'top' AND dimension = $1 AND by = 'downloads'
ORDER BY position, category
"""


@dataclass(frozen=True)
class Found:
    """A stored list: the last complete day it was computed on and its entries."""

    day: dt.date | None
    entries: list[dict[str, Any]]


async def read_list(conn: Conn, name: str, dimension: str = "", category: str = "", order: str = "") -> Found:
    """One stored list (no row: an empty list on no day)."""
    row = await conn.fetchrow(READ_LIST, name, dimension, category, order)
    if row is None:
        return Found(None, [])
    entries: list[dict[str, Any]] = json.loads(row["entries"])
    return Found(row["day"], entries)


async def categories(conn: Conn, dimension: str) -> list[str]:
    """The categories of ``dimension`` with a top list, largest first."""
    return [r["category"] for r in await conn.fetch(CATEGORIES, dimension)]
