"""Time bins of a series: days summed per ISO week, calendar month or calendar year (pure, no I/O).

Owns what ``bin=day|week|month|year`` means for every reader (api, web, CSV): a bin is named by
its first day (a week starts on Monday, ISO 8601), its downloads are the sum of the days of the
bin inside the window, and a bin is *partial* when the window does not cover all of its days (the
first and last bins of most windows: a window that starts mid-month, or ends on the last complete
day before the month is over). ``bin=day`` is the series itself, never partial.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final, Literal, TypeAlias, get_args

Bin: TypeAlias = Literal["day", "week", "month", "year"]
BINS: Final[tuple[str, ...]] = get_args(Bin)
#: Categories in order, each with its non-zero ``(day, downloads)`` in day order (shared.series.Groups).
Days: TypeAlias = list[tuple[dt.date, int]]
#: Categories in order, each with ``(bin start, downloads, partial)`` in bin order.
Binned: TypeAlias = list[tuple[str, list[tuple[dt.date, int, bool]]]]


def bin_start(day: dt.date, bin: Bin) -> dt.date:
    """The first day of the bin holding ``day``."""
    if bin == "day":
        return day
    if bin == "week":
        return day - dt.timedelta(days=day.weekday())
    if bin == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def bin_last(start: dt.date, bin: Bin) -> dt.date:
    """The last day of the bin starting on ``start``."""
    if bin == "day":
        return start
    if bin == "week":
        return start + dt.timedelta(days=6)
    if bin == "month":
        following = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        return following - dt.timedelta(days=1)
    return start.replace(month=12, day=31)


def is_partial(start: dt.date, bin: Bin, first: dt.date, last: dt.date) -> bool:
    """True when the window ``first..last`` misses some day of the bin starting on ``start``."""
    return start < first or bin_last(start, bin) > last


def bin_days(days: Iterable[tuple[dt.date, int]], bin: Bin) -> list[tuple[dt.date, int]]:
    """``(day, downloads)`` in day order summed per bin, in bin order (bins without downloads left out)."""
    out: list[tuple[dt.date, int]] = []
    current: dt.date | None = None
    total = 0
    for day, downloads in days:
        start = bin_start(day, bin)
        if start != current:
            if current is not None:
                out.append((current, total))
            current, total = start, 0
        total += downloads
    if current is not None:
        out.append((current, total))
    return out


def binned(groups: Iterable[tuple[str, Days]], bin: Bin, first: dt.date, last: dt.date) -> Binned:
    """Every category's days summed per bin, each bin marked partial or not against the window
    ``first..last`` (the days the answer covers: the requested range clipped to the data kept)."""
    marks: dict[dt.date, bool] = {}
    out: Binned = []
    for category, days in groups:
        rows = []
        for start, downloads in bin_days(days, bin):
            partial = marks.get(start)
            if partial is None:
                partial = marks[start] = bin != "day" and is_partial(start, bin, first, last)
            rows.append((start, downloads, partial))
        out.append((category, rows))
    return out
