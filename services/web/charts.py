"""Pure chart data: date windows, zero-filled series, CSV and sparklines (no I/O).

Owns the shape of the JSON the browser draws with Plotly: one list of dates and, per chart, one
series per category with a value for every date (days without a row are 0, because only non-zero
rows are stored). The browser only slices and transforms these arrays (range, percentage, 7-day
average); every number originates here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

#: The four charts of a package page: (dimension, title, what percentages are taken of).
DIMENSIONS: tuple[tuple[str, str, str], ...] = (
    ("overall", "Downloads, with and without mirrors", "with_mirrors"),
    ("python_major", "Downloads by Python major version", "sum"),
    ("python_minor", "Downloads by Python minor version", "sum"),
    ("system", "Downloads by operating system", "sum"),
)
DIMENSION_NAMES = tuple(d for d, _, _ in DIMENSIONS)
RANGES = (30, 60, 90, 120)
SPARKLINE_DAYS = 30

_VERSION = re.compile(r"^\d+(\.\d+)*$")


class PointLike(Protocol):
    @property
    def category(self) -> str: ...
    @property
    def day(self) -> dt.date: ...
    @property
    def downloads(self) -> int: ...


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class LookbackError(ValueError):
    """A ``lookback`` query value that is not an integer in 1..retention."""


def parse_lookback(raw: str | None, retention_days: int) -> int | None:
    """``None`` when absent (the whole retained history), else an int in 1..retention_days."""
    if raw is None or raw == "":
        return None
    if len(raw) > 6 or not raw.isdigit():
        raise LookbackError(f"lookback must be a whole number of days between 1 and {retention_days}")
    value = int(raw)
    if not 1 <= value <= retention_days:
        raise LookbackError(f"lookback must be a whole number of days between 1 and {retention_days}")
    return value


def window(last_day: dt.date, lookback: int | None, retention_days: int) -> Window:
    """The last ``lookback`` days through ``last_day``, or every retained day (retention + 1 dates)."""
    span = retention_days + 1 if lookback is None else lookback
    return Window(last_day - dt.timedelta(days=span - 1), last_day)


def dates(win: Window) -> list[dt.date]:
    return [win.start + dt.timedelta(days=i) for i in range(win.days)]


def category_key(category: str) -> tuple[int, tuple[int, ...], str]:
    """Versions numerically (3.9 before 3.10), then names, with ``null`` and ``other`` last."""
    if category == "null":
        return (3, (), category)
    if category == "other":
        return (2, (), category)
    if _VERSION.match(category):
        return (0, tuple(int(p) for p in category.split(".")), category)
    return (1, (), category.lower())


def zero_fill(points: Iterable[PointLike], win: Window) -> dict[str, list[int]]:
    """One value per day of ``win`` for every category seen in it; missing days are 0."""
    filled: dict[str, list[int]] = {}
    index = {day: i for i, day in enumerate(dates(win))}
    for p in points:
        i = index.get(p.day)
        if i is not None:
            values = filled.get(p.category)
            if values is None:
                values = filled[p.category] = [0] * win.days
            values[i] += p.downloads
    return {c: filled[c] for c in sorted(filled, key=category_key)}


def label(dimension: str, category: str) -> str:
    if dimension == "overall":
        return {"with_mirrors": "with mirrors", "without_mirrors": "without mirrors"}.get(category, category)
    if category == "null":
        return "unknown"
    if dimension.startswith("python_"):
        return f"Python {category}"
    return category


def chart(dimension: str, title: str, base: str, points: Iterable[PointLike], win: Window) -> dict[str, Any]:
    filled = zero_fill(points, win)
    if dimension == "overall":  # always both lines, in a fixed order
        filled = {c: filled.get(c, [0] * win.days) for c in ("with_mirrors", "without_mirrors")}
    return {
        "id": dimension,
        "title": title,
        "base": base,
        "series": [
            {"category": c, "name": label(dimension, c), "values": values} for c, values in filled.items()
        ],
    }


def package_charts(by_dimension: Mapping[str, Sequence[PointLike]], win: Window) -> dict[str, Any]:
    """The JSON embedded in a package page: dates plus the four charts."""
    return {
        "dates": [d.isoformat() for d in dates(win)],
        "charts": [chart(d, title, base, by_dimension.get(d, ()), win) for d, title, base in DIMENSIONS],
    }


def compare_chart(by_package: Mapping[str, Sequence[PointLike]], win: Window) -> dict[str, Any]:
    """One chart, one line per package (downloads without mirrors), in the order given."""
    series = []
    for package, points in by_package.items():
        values = [0] * win.days
        for p in points:
            index = (p.day - win.start).days
            if 0 <= index < win.days:
                values[index] += p.downloads
        series.append({"category": package, "name": package, "values": values})
    return {
        "dates": [d.isoformat() for d in dates(win)],
        "charts": [{"id": "compare", "title": "Downloads without mirrors", "base": "sum", "series": series}],
    }


def to_csv(data: Mapping[str, Any], chart_id: str) -> str:
    """``date,<category>,...`` with one row per day, for the CSV download of one chart."""
    found = [c for c in data["charts"] if c["id"] == chart_id]
    if not found:
        raise KeyError(chart_id)
    series = found[0]["series"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", *(s["category"] for s in series)])
    for i, day in enumerate(data["dates"]):
        writer.writerow([day, *(s["values"][i] for s in series)])
    return out.getvalue()


def sparkline(values: Sequence[int], width: int = 120, height: int = 28) -> str:
    """SVG ``polyline`` points for ``values`` scaled into ``width`` x ``height`` (0 at the bottom)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    pad = 1.0
    usable = height - 2 * pad
    return " ".join(
        f"{round(i * step, 1):g},{round(pad + usable - usable * v / top, 1):g}" for i, v in enumerate(values)
    )
