"""A package's totals over long periods: last day, week, month and year, all time, first day.

Owns what ``/api/packages/<p>/totals`` and the package page's all-time number mean: sums of
``overall/without_mirrors`` (as the recent totals), anchored on the last complete day D: day = D,
week = D-6..D, month = D-29..D, year = D-364..D, all time = every day the store keeps, and the
first day with a download on record. The pure core (:func:`totals_of`) sums a series; the reader
(:func:`package_totals`) fetches the package's whole overall history in one query (shared.series).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from shared import rollups, series
from shared.db.layout import WITHOUT_MIRRORS, Conn, Dictionary

#: Days of each period ending on the last complete day.
PERIOD_DAYS: Final = {"day": 1, "week": 7, "month": 30, "year": 365}


@dataclass(frozen=True)
class Totals:
    last_day: int
    last_week: int
    last_month: int
    last_year: int
    all_time: int
    first_day: dt.date | None

    def data(self) -> dict[str, object]:
        """The API's ``data`` object (keys sorted by the encoder)."""
        return {
            "all_time": self.all_time,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day,
            "last_month": self.last_month,
            "last_week": self.last_week,
            "last_year": self.last_year,
        }


def totals_of(days: Iterable[tuple[dt.date, int]], anchor: dt.date | None) -> Totals:
    """Totals of ``(day, downloads)`` (any order) anchored on the last complete day ``anchor``;
    days after the anchor are not counted (a day is counted once it is complete)."""
    sums = dict.fromkeys(PERIOD_DAYS, 0)
    total = 0
    first: dt.date | None = None
    if anchor is not None:
        starts = {p: anchor - dt.timedelta(days=n - 1) for p, n in PERIOD_DAYS.items()}
        for day, downloads in days:
            if day > anchor or downloads <= 0:
                continue
            total += downloads
            first = day if first is None or day < first else first
            for period, start in starts.items():
                if day >= start:
                    sums[period] += downloads
    return Totals(sums["day"], sums["week"], sums["month"], sums["year"], total, first)


async def package_totals(conn: Conn, names: Dictionary, package: str) -> Totals:
    """The totals of ``package`` (normalised, or ``__all__``) from its whole kept history."""
    anchor = await rollups.last_complete_day(conn)
    groups = await series.series_groups(conn, names, package, "overall", WITHOUT_MIRRORS, None, anchor)
    return totals_of((d for _, days in groups for d in days), anchor)
