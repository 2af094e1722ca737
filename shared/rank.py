"""A package's rank among all packages by last month's downloads, and its percentile.

Owns what "rank" means wherever it is shown (``/api/packages/<p>/totals``, the package page, the
``metric=rank`` badge): the position of the package among every package (``__all__`` excluded)
with a download in the month window D-29..D, by the month's downloads without mirrors (the
recent totals, ``recent_downloads`` period ``month``), or by people (period ``people_month``),
1 for the most downloaded; ties share a rank. ``top_percent`` is the smallest of 0.01, 0.1 and
every whole percent that the rank falls within ("top 1%"). The pure core is :func:`rank_of`;
:func:`package_rank` reads the two counts through the ``(period, downloads)`` index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from shared.db.layout import Conn

#: The recent_downloads period each ranking reads.
MONTH: Final = "month"
PEOPLE_MONTH: Final = "people_month"

RANK = """
WITH me AS (
    SELECT downloads FROM recent_downloads WHERE package = $1 AND period = $2 AND downloads > 0
)
SELECT (SELECT downloads FROM me) AS downloads,
       (SELECT count(*) FROM recent_downloads
        WHERE period = $2 AND package <> '__all__' AND downloads > (SELECT downloads FROM me)) AS ahead,
       (SELECT count(*) FROM recent_downloads
        WHERE period = $2 AND package <> '__all__' AND downloads > 0) AS ranked
"""


@dataclass(frozen=True)
class Rank:
    rank: int
    of: int
    top_percent: float

    def data(self) -> dict[str, Any]:
        return {"of": self.of, "rank": self.rank, "top_percent": self.top_percent}

    def text(self) -> str:
        """``#12 · top 1%``."""
        return f"#{self.rank:,} \u00b7 top {self.top_percent:g}%"


def top_percent(rank: int, of: int) -> float:
    """The smallest of 0.01, 0.1, 1, 2, ... 100 that ``rank`` of ``of`` is within, as a percent."""
    share = rank * 100 / of
    for step in (0.01, 0.1):
        if share <= step:
            return step
    return float(min(100, math.ceil(share - 1e-9)))


def rank_of(ahead: int, ranked: int) -> Rank:
    """The rank of a package with ``ahead`` packages above it among ``ranked`` packages."""
    position = ahead + 1
    return Rank(position, ranked, top_percent(position, ranked))


async def package_rank(conn: Conn, package: str, people: bool = False) -> Rank | None:
    """The rank of ``package`` by last month's downloads (by people), or None when it has none
    (or for ``__all__``)."""
    row = await conn.fetchrow(RANK, package, PEOPLE_MONTH if people else MONTH)
    if row is None or row["downloads"] is None or package == "__all__":
        return None
    return rank_of(int(row["ahead"]), int(row["ranked"]))


async def ranks(conn: Conn, package: str) -> dict[str, Any]:
    """``{"last_month": ..., "people_last_month": ...}``: each the :meth:`Rank.data` of that
    ranking, or None (``__all__``, or no download in the window)."""
    out: dict[str, Any] = {}
    for key, people in (("last_month", False), ("people_last_month", True)):
        found = await package_rank(conn, package, people=people)
        out[key] = found.data() if found is not None else None
    return out
