"""Pure chart data: which charts a page has, date windows, zero-filled series, CSV, sparklines (no I/O).

Owns :data:`PACKAGE_CHARTS` (one :class:`ChartSpec` per chart) and the shape of the JSON the
browser draws with Plotly: one list of dates and, per chart, its spec's drawing fields and one
series per category with a value for every date (days without a row are 0, because only
non-zero rows are stored). The browser only slices and transforms these arrays (range, top N
plus "other", 7-day average, percentage); every number originates here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from shared.events import DEFAULT_MIRRORS


@dataclass(frozen=True)
class ChartSpec:
    """One chart: which stored dimension it draws and how. The browser (static/app.js) draws any
    chart from these fields alone, so a new chart is a new :data:`PACKAGE_CHARTS` entry."""

    #: The dimension as stored (a key of ``shared.series.series_window``); also the chart's id in
    #: the page (``#chart-<id>``) and in its CSV URL (``/packages/<name>/<id>.csv``).
    id: str
    title: str
    #: "lines": one line per category; "stacked": stacked areas (parts of a whole); "bar": one
    #: bar per category, ranked, of its downloads over the range shown (countries).
    kind: Literal["lines", "stacked", "bar"] = "lines"
    #: Offer the percentage toggle (each category's share of the day's total). Only where the
    #: categories partition the downloads: with/without mirrors overlap, so not there.
    percent: bool = True
    #: Draw the ``top`` categories with the most downloads in the range shown; the rest are summed
    #: into one "other" series. None draws every category.
    top: int | None = None
    #: At most this many categories go into the page (the most downloaded over every retained
    #: day; the rest summed into "other"), for dimensions with many values (versions, countries).
    #: The CSV download keeps them all. None sends every category.
    send: int | None = None
    #: Categories always drawn, in this order (zeros when a package has none of them).
    categories: tuple[str, ...] = ()
    #: Legend labels by category; a category without one is shown as ``prefix + category``.
    labels: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""

    def label(self, category: str) -> str:
        if category in self.labels:
            return self.labels[category]
        if category in COMMON_LABELS:
            return COMMON_LABELS[category]
        return self.prefix + category


#: Labels of categories every dimension may have.
COMMON_LABELS = {"null": "unknown", "other": "other"}

#: The charts of a package page, in page order. To chart a new dimension, add an entry here
#: (its rows must be stored under ``id``); the page, the CSV download and the browser follow.
PACKAGE_CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "overall",
        "Downloads, with and without mirrors",
        percent=False,
        categories=("with_mirrors", "without_mirrors"),
        labels={"with_mirrors": "with mirrors", "without_mirrors": "without mirrors"},
    ),
    ChartSpec("python_major", "Downloads by Python major version", prefix="Python "),
    ChartSpec("python_minor", "Downloads by Python minor version", kind="stacked", top=6, prefix="Python "),
    ChartSpec("system", "Downloads by operating system"),
    ChartSpec("version", "Downloads by package version", kind="stacked", top=8, send=40),
    ChartSpec(
        "installer",
        "Downloads by installer, mirrors included",
        kind="stacked",
        top=8,
        send=30,
        labels={
            **{m: f"{m} (mirror)" for m in DEFAULT_MIRRORS},
            "null": "not reported (counted as a mirror)",
        },
    ),
    ChartSpec("country", "Downloads by country", kind="bar", top=15, send=60),
    ChartSpec("file_type", "Downloads by file type", kind="stacked", top=4),
    ChartSpec(
        "ci",
        "Downloads from continuous integration",
        kind="stacked",
        categories=("true", "false", "null"),
        labels={"true": "in CI", "false": "not in CI", "null": "not reported"},
    ),
)
COMPARE_CHART = ChartSpec("compare", "Downloads without mirrors")
DIMENSION_NAMES = tuple(spec.id for spec in PACKAGE_CHARTS)
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


def chart(spec: ChartSpec, filled: Mapping[str, list[int]]) -> dict[str, Any]:
    """The JSON of one chart: the spec's drawing fields and one series per category."""
    return {
        "id": spec.id,
        "title": spec.title,
        "kind": spec.kind,
        "percent": spec.percent,
        "top": spec.top,
        "series": [
            {"category": c, "name": spec.label(c), "values": values} for c, values in filled.items()
        ],
    }


def fold(filled: Mapping[str, list[int]], keep: int) -> dict[str, list[int]]:
    """The ``keep`` categories with the most downloads (in their order), the rest summed into
    "other" (with any stored "other"): bounds what a page carries for many-valued dimensions."""
    ranked = sorted((c for c in filled if c != "other"), key=lambda c: -sum(filled[c]))
    kept = set(ranked[:keep])
    out = {c: v for c, v in filled.items() if c in kept}
    rest = [v for c, v in filled.items() if c not in kept]
    if rest:
        out["other"] = [sum(day) for day in zip(*rest, strict=True)]
    return out


def package_charts(
    by_dimension: Mapping[str, Sequence[PointLike]],
    win: Window,
    specs: Sequence[ChartSpec] = PACKAGE_CHARTS,
    *,
    folded: bool = True,
) -> dict[str, Any]:
    """The JSON embedded in a package page: dates plus one chart per spec. ``folded=False`` keeps
    every category even past a spec's ``send`` (the CSV download)."""
    charts = []
    for spec in specs:
        filled = zero_fill(by_dimension.get(spec.id, ()), win)
        if folded and spec.send is not None and len(filled) > spec.send:
            filled = fold(filled, spec.send)
        if spec.categories:
            fixed = {c: filled.pop(c, [0] * win.days) for c in spec.categories}
            filled = fixed | filled
        charts.append(chart(spec, filled))
    return {"dates": [d.isoformat() for d in dates(win)], "charts": charts}


def compare_chart(by_package: Mapping[str, Sequence[PointLike]], win: Window) -> dict[str, Any]:
    """One chart, one line per package (downloads without mirrors), in the order given."""
    filled: dict[str, list[int]] = {}
    for package, points in by_package.items():
        values = filled[package] = [0] * win.days
        for p in points:
            index = (p.day - win.start).days
            if 0 <= index < win.days:
                values[index] += p.downloads
    return {"dates": [d.isoformat() for d in dates(win)], "charts": [chart(COMPARE_CHART, filled)]}


#: What the compare page can compare: downloads without mirrors, or the share of one category of
#: any dimension of the package page (id -> what its form says).
COMPARE_DIMENSIONS = {
    "overall": "downloads without mirrors",
    "python_major": "share of a Python major version",
    "python_minor": "share of a Python minor version",
    "system": "share of an operating system",
    "version": "share of a package version",
    "installer": "share of an installer (mirrors included)",
    "country": "share of a country",
    "file_type": "share of a file type",
    "ci": "share of CI downloads (true, false, null)",
}


def share_chart(
    by_package: Mapping[str, Sequence[PointLike]], dimension: str, category: str, win: Window
) -> dict[str, Any]:
    """One line per package, in the order given: the percentage of its downloads in ``dimension``
    that fall in ``category``, day by day (0 on days without downloads)."""
    spec = next(s for s in PACKAGE_CHARTS if s.id == dimension)
    filled: dict[str, list[float]] = {}
    for package, points in by_package.items():
        totals, part = [0] * win.days, [0] * win.days
        for p in points:
            index = (p.day - win.start).days
            if 0 <= index < win.days:
                totals[index] += p.downloads
                if p.category == category:
                    part[index] += p.downloads
        filled[package] = [round(100 * a / t, 2) if t else 0.0 for a, t in zip(part, totals, strict=True)]
    title = f"{spec.title.replace('Downloads by ', 'Share of downloads by ')}: {spec.label(category)}"
    drawn = chart(ChartSpec("compare", title, percent=False), filled)  # type: ignore[arg-type]
    drawn["unit"] = "%"
    return {"dates": [d.isoformat() for d in dates(win)], "charts": [drawn]}


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
