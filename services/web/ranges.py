"""The date range, bin and scale of the chart pages (pure, no I/O): what ``?range=``, ``?lookback=``,
``?bin=`` and ``?log=`` mean.

Owns the range bar's choices (30d, 90d, 180d, 1y, 2y, 5y, all; ``?lookback=N`` for any other
number of days), parsing a query into a :class:`Choice` (a bad value is a :class:`RangeError`,
shown as a 400 page), resolving a choice against the kept history (its first and last complete
day) into a :class:`View` and the links of the range bar.

What a view is:

- its *window*: the days the choice asks for, ending on the last complete day, clipped to the
  first day kept (a choice reaching further back says so, see :attr:`View.clipped`);
- its *bin*: ``?bin=`` when given, else chosen from the window's length: up to 180 days by day,
  up to 2 years (730 days) by week, longer by month. For a full history that is the
  brief's "30d..180d: day, 1y and 2y: week, 5y and all: month"; a young history is not put into
  two partial months because its "all" is 40 days;
- what the page *embeds*: the window itself, except that a daily view carries at least the last
  180 days, so the shorter daily ranges switch in the browser without a reload (as before).

Which ranges the bar offers: every named range that fits in the kept history, and "all".
A longer one would draw exactly what "all" draws, so it is hidden rather than offered twice; a
URL naming it still works, is shown as the current choice, and says what it covers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from shared.bins import Bin

#: The range bar's named ranges, shortest first, and the days each covers (None: every day kept).
RANGES: Final[dict[str, int | None]] = {
    "30d": 30,
    "90d": 90,
    "180d": 180,
    "1y": 365,
    "2y": 730,
    "5y": 1825,
    "all": None,
}
DEFAULT_RANGE: Final = "180d"
#: What each named range's link says to a screen reader.
SPOKEN: Final = {
    "30d": "last 30 days",
    "90d": "last 90 days",
    "180d": "last 180 days",
    "1y": "last year",
    "2y": "last 2 years",
    "5y": "last 5 years",
}
#: The bins a page offers (shared.bins also knows years; the API offers them).
PAGE_BINS: Final[tuple[Bin, ...]] = ("day", "week", "month")
#: Windows up to this many days are drawn by day, then by week up to WEEK_MAX, then by month.
DAY_MAX: Final = 180
WEEK_MAX: Final = 730
#: A daily page carries at least this many days (the default range), see the module docstring.
EMBED_DAYS: Final = 180
#: The largest ``?lookback=`` when no retention bounds it (the largest RETENTION_DAYS, 100 years).
MAX_LOOKBACK: Final = 36_600


class RangeError(ValueError):
    """A bad ``range``, ``lookback``, ``bin`` or ``log``: which parameter, and what is allowed."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class Window:
    """Days ``start..end``, both included."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Choice:
    """What the URL asks for: a named range or ``lookback`` days, maybe a bin, maybe a log axis."""

    range: str = DEFAULT_RANGE
    #: Days asked with ``?lookback=N`` (then ``range`` is ""), else None.
    lookback: int | None = None
    #: The bin named by ``?bin=``; None lets the window's length choose.
    bin: Bin | None = None
    log: bool = False

    @property
    def days(self) -> int | None:
        """The days asked for; None for every day kept."""
        return self.lookback if self.lookback is not None else RANGES[self.range]

    @property
    def key(self) -> dict[str, Any]:
        """What tells two choices apart (the page cache's key)."""
        return {"range": self.range, "lookback": self.lookback, "bin": self.bin, "log": self.log}

    def params(self, *, log: bool = True) -> dict[str, str]:
        """The URL's query for this choice, shortest form: the default range and no bin are left out."""
        out: dict[str, str] = {}
        if self.lookback is not None:
            out["lookback"] = str(self.lookback)
        elif self.range != DEFAULT_RANGE:
            out["range"] = self.range
        if self.bin is not None:
            out["bin"] = self.bin
        if log and self.log:
            out["log"] = "1"
        return out


def parse(query: Mapping[str, str], max_lookback: int) -> Choice:
    """The choice in ``query`` (``range`` or ``lookback``, ``bin``, ``log``); raises RangeError."""
    raw_range = query.get("range") or None
    raw_lookback = query.get("lookback") or None
    if raw_range is not None and raw_lookback is not None:
        raise RangeError("range", "give either range or lookback, not both")
    lookback = None
    if raw_lookback is not None:
        if len(raw_lookback) > 6 or not raw_lookback.isdigit() or not 1 <= int(raw_lookback) <= max_lookback:
            raise RangeError(
                "lookback", f"lookback must be a whole number of days between 1 and {max_lookback}"
            )
        lookback = int(raw_lookback)
    if raw_range is not None and raw_range not in RANGES:
        raise RangeError("range", "range must be one of " + ", ".join(RANGES))
    raw_bin = query.get("bin") or None
    if raw_bin is not None and raw_bin not in PAGE_BINS:
        raise RangeError("bin", "bin must be one of " + ", ".join(PAGE_BINS))
    raw_log = query.get("log", "")
    if raw_log not in ("", "0", "1"):
        raise RangeError("log", "log must be 1 (a logarithmic axis) or 0")
    return Choice(
        range="" if lookback is not None else (raw_range or DEFAULT_RANGE),
        lookback=lookback,
        bin=raw_bin,  # narrowed to a Bin by the check against PAGE_BINS above
        log=raw_log == "1",
    )


def auto_bin(days: int) -> Bin:
    """The bin of a window of ``days`` days when the URL names none."""
    if days <= DAY_MAX:
        return "day"
    return "week" if days <= WEEK_MAX else "month"


@dataclass(frozen=True)
class History:
    """The kept history: its first and last complete days."""

    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def window(self, days: int | None) -> Window:
        """The last ``days`` days (every day kept for None), clipped to the first day kept."""
        if days is None:
            return Window(self.first, self.last)
        return Window(max(self.first, self.last - dt.timedelta(days=days - 1)), self.last)

    def reaches_before(self, days: int | None) -> bool:
        """True when the last ``days`` days start before the first day kept."""
        return days is not None and days > self.days


@dataclass(frozen=True)
class View:
    """A choice resolved against the kept history: what is drawn and what the page carries."""

    choice: Choice
    history: History
    window: Window
    bin: Bin
    #: The days the page carries (the window, or more for a short daily window).
    embed: Window

    @property
    def clipped(self) -> bool:
        """True when the choice asks for days before the first day kept."""
        return self.history.reaches_before(self.choice.days)

    @property
    def auto(self) -> bool:
        """True when the bin is the one the window's length picks (no ``?bin=`` needed for it)."""
        return self.bin == auto_bin(self.window.days)


def resolve(choice: Choice, history: History) -> View:
    win = history.window(choice.days)
    bin = choice.bin or auto_bin(win.days)
    embed = win
    if bin == "day" and win.days < EMBED_DAYS:
        embed = history.window(EMBED_DAYS)
    return View(choice, history, win, bin, embed)


def covers(history: History, days: int | None) -> str:
    """What the last ``days`` days cover, said when they reach before the first day kept."""
    return (
        f"{label_of(days)} reaches before the first day kept: showing the {history.days:,} days "
        f"from {history.first.isoformat()}"
    )


def label_of(days: int | None) -> str:
    return next((name for name, n in RANGES.items() if n == days), f"{days}d")


def _href(path: str, params: Mapping[str, str]) -> str:
    return path + ("?" + urlencode(params, safe=",") if params else "")


def range_bar(path: str, base: Mapping[str, str], view: View) -> dict[str, Any]:
    """The range bar of ``view`` on ``path`` (``base``: the page's other query parameters):

    - ``ranges``: one link per range offered (named ranges that fit in the kept history, "all",
      and the current choice if it is neither), each with the number of points it draws and
      its bin, so the browser knows which it can draw from the page's data without a reload;
    - ``bins``: one link per bin, for the current range;
    - ``log``, ``first``, ``note`` (what the current choice covers, when it reaches before the
      first day kept).

    Range links carry no bin (each range gets its own) and keep ``log``.
    """
    history, choice = view.history, view.choice
    offered: list[tuple[str, int | None, Choice]] = [
        (name, days, Choice(range=name, log=choice.log))
        for name, days in RANGES.items()
        if days is None or days <= history.days
    ]
    current_days = choice.days
    current_name = choice.range or next(
        (name for name, days in RANGES.items() if days == current_days and days is not None), ""
    )
    if not any(name == current_name for name, _, _ in offered):
        extra = Choice(range=choice.range, lookback=choice.lookback, log=choice.log)
        offered.append((current_name or f"{current_days}d", current_days, extra))
        offered.sort(key=lambda o: (o[1] is None, o[1] or 0))
    links = []
    for name, days, target in offered:
        win = history.window(days)
        bin = auto_bin(win.days)
        links.append(
            {
                "key": name,
                "label": name,
                "href": _href(path, {**base, **target.params()}),
                "csv": urlencode(target.params(log=False)),
                "points": win.days if bin == "day" else None,
                "bin": bin,
                "current": name == (current_name or f"{current_days}d"),
                "aria": (
                    f"every day kept, since {history.first.isoformat()}"
                    if days is None
                    else SPOKEN.get(name, f"last {days} days")
                ),
                "note": covers(history, days) if history.reaches_before(days) else "",
            }
        )
    bins = []
    for bin in PAGE_BINS:
        named = bin if bin != auto_bin(view.window.days) else None
        target = Choice(range=choice.range, lookback=choice.lookback, bin=named, log=choice.log)
        bins.append(
            {"bin": bin, "href": _href(path, {**base, **target.params()}), "current": bin == view.bin}
        )
    return {
        "ranges": links,
        "bins": bins,
        "log": choice.log,
        "first": history.first.isoformat(),
        "note": covers(history, current_days) if view.clipped else "",
    }
