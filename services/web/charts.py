"""Pure chart data: which charts a page has, zero-filled series by day, week or month, CSV, sparklines (no I/O).

Owns :data:`PACKAGE_CHARTS` (one :class:`ChartSpec` per chart) and the shape of the JSON the
browser draws with Plotly (:func:`frame`): the first day of every bin of the window (``dates``),
the ``bin``, the ``partial`` bins (the first and last week or month when the window does not
cover all of their days, with how many it covers) and, per chart, its spec's drawing fields and
one series per category with a value for every bin (bins without a row are 0, because only
non-zero rows are stored). The package page's series come from each dimension's
:class:`~shared.series.Matrix` (:func:`matrix_charts`, summed by services.web.rows); points
(compare, the ecosystem) are summed per week and month by shared.bins. The browser only slices
and transforms these arrays (range, top N plus "other", 7-day average, percentage, log axis);
every number originates here. Which window and bin a page shows is services.web.ranges's.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from services.web.ranges import Window
from services.web.rows import fold_rows, ordered, window_rows
from shared import bins
from shared.bins import Bin
from shared.events import DEFAULT_MIRRORS
from shared.series import Matrix


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
    #: Offer the "people only" toggle: the chart then draws its ``people`` series alone (downloads
    #: by people: no mirrors, no CI, only the installers people run; shared.installers), and
    #: without it every other series.
    people: bool = False
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
# --- platforms and ABIs: the categories shared.platforms gives both, and the ABIs worth a word ---
_FILE_LABELS = {"sdist": "sdist (source)", "null": "no file name logged"}
PLATFORM_LABELS = {**_FILE_LABELS, "any": "any (pure Python)", "other": "other file or platform"}
ABI_LABELS = {
    **_FILE_LABELS,
    "none": "none (pure Python)",
    "abi3": "abi3 (stable ABI)",
    "other": "other file or ABI",
    **{f"cp3{n}t": f"cp3{n}t (free-threaded)" for n in range(13, 20)},
}

#: The charts of a package page, in page order. To chart a new dimension, add an entry here
#: (its rows must be stored under ``id``); the page, the CSV download and the browser follow.
PACKAGE_CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "overall",
        "Downloads, with and without mirrors",
        percent=False,
        categories=("with_mirrors", "without_mirrors", "people"),
        labels={"with_mirrors": "with mirrors", "without_mirrors": "without mirrors", "people": "by people"},
        people=True,
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
    # --- platforms and ABIs (from wheel file names: shared/platforms.py) ---
    ChartSpec(
        "platform",
        "Downloads by platform",
        kind="stacked",
        top=8,
        send=30,
        labels=PLATFORM_LABELS,
    ),
    # up to 12 drawn: ABIs are a dozen or so, and the few free-threaded downloads stay in sight
    ChartSpec("abi", "Downloads by ABI", kind="stacked", top=12, send=30, labels=ABI_LABELS),
)
COMPARE_CHART = ChartSpec("compare", "Downloads without mirrors")
COMPARE_PEOPLE_CHART = ChartSpec("compare", "Downloads by people (no mirrors, no CI, installers people run)")
DIMENSION_NAMES = tuple(spec.id for spec in PACKAGE_CHARTS)
SPARKLINE_DAYS = 30

_VERSION = re.compile(r"^\d+(\.\d+)*$")
#: Days by category (or package): what :func:`fill` puts into bins.
DayGroups = Mapping[str, Iterable[tuple[dt.date, int]]]


class PointLike(Protocol):
    @property
    def category(self) -> str: ...
    @property
    def day(self) -> dt.date: ...
    @property
    def downloads(self) -> int: ...


def dates(win: Window) -> list[dt.date]:
    return [win.start + dt.timedelta(days=i) for i in range(win.days)]


def bin_starts(win: Window, bin: Bin) -> list[dt.date]:
    """The first day of every bin touching ``win``, in order (the first may be before ``win.start``)."""
    if bin == "day":
        return dates(win)
    out: list[dt.date] = []
    start = bins.bin_start(win.start, bin)
    while start <= win.end:
        out.append(start)
        start = bins.bin_last(start, bin) + dt.timedelta(days=1)
    return out


def partial_bins(win: Window, bin: Bin) -> dict[str, dict[str, int]]:
    """The bins ``win`` does not wholly cover (at most its first and last), by first day:
    ``{"days": days of the bin inside the window, "of": days of the bin}``."""
    if bin == "day":
        return {}
    starts = bin_starts(win, bin)
    out: dict[str, dict[str, int]] = {}
    for start in {starts[0], starts[-1]}:
        if bins.is_partial(start, bin, win.start, win.end):
            last = bins.bin_last(start, bin)
            inside = (min(last, win.end) - max(start, win.start)).days + 1
            out[start.isoformat()] = {"days": inside, "of": (last - start).days + 1}
    return dict(sorted(out.items()))


def category_key(category: str) -> tuple[int, tuple[int, ...], str]:
    """Versions numerically (3.9 before 3.10), then names, with ``null`` and ``other`` last."""
    if category == "null":
        return (3, (), category)
    if category == "other":
        return (2, (), category)
    if _VERSION.match(category):
        return (0, tuple(int(p) for p in category.split(".")), category)
    return (1, (), category.lower())


def grouped(points: Iterable[PointLike], win: Window) -> dict[str, list[tuple[dt.date, int]]]:
    """The points inside ``win`` as days by category, each category's days in day order."""
    out: dict[str, list[tuple[dt.date, int]]] = {}
    for p in points:
        if win.start <= p.day <= win.end:
            days = out.get(p.category)
            if days is None:
                days = out[p.category] = []
            days.append((p.day, p.downloads))
    for days in out.values():
        days.sort()
    return out


def fill(groups: DayGroups, win: Window, bin: Bin = "day") -> dict[str, list[int]]:
    """One value per bin of ``win`` (:func:`bin_starts`) for every group, in the order given;
    bins without downloads are 0. Days outside ``win`` must be left out already (:func:`grouped`).
    Week and month sums are shared.bins's (:func:`shared.bins.binned`)."""
    starts = bin_starts(win, bin)
    index = {start: i for i, start in enumerate(starts)}
    out: dict[str, list[int]] = {}
    if bin == "day":
        for name, days in groups.items():
            values = out[name] = [0] * len(starts)
            for day, downloads in days:
                values[index[day]] += downloads
        return out
    for name, rows in bins.binned(((n, list(days)) for n, days in groups.items()), bin, win.start, win.end):
        values = out[name] = [0] * len(starts)
        for start, downloads, _partial in rows:
            values[index[start]] += downloads
    for name in groups:  # a group without a download in the window
        out.setdefault(name, [0] * len(starts))
    return {name: out[name] for name in groups}


def zero_fill(points: Iterable[PointLike], win: Window, bin: Bin = "day") -> dict[str, list[int]]:
    """One value per bin of ``win`` for every category seen in it, in category order; empty bins are 0."""
    filled = fill(grouped(points, win), win, bin)
    return {c: filled[c] for c in sorted(filled, key=category_key)}


def frame(win: Window, bin: Bin, charts: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON a page draws from: the bins' first days, the bin, the partial bins, the charts."""
    return {
        "dates": [d.isoformat() for d in bin_starts(win, bin)],
        "bin": bin,
        "partial": partial_bins(win, bin),
        "charts": charts,
    }


def chart(spec: ChartSpec, filled: Mapping[str, list[int]]) -> dict[str, Any]:
    """The JSON of one chart: the spec's drawing fields and one series per category."""
    return {
        "id": spec.id,
        "title": spec.title,
        "kind": spec.kind,
        "percent": spec.percent,
        "top": spec.top,
        **({"people": True} if spec.people else {}),
        "series": [{"category": c, "name": spec.label(c), "values": values} for c, values in filled.items()],
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


@functools.lru_cache(maxsize=64)
def edges_of(win: Window, bin: Bin) -> npt.NDArray[np.intp] | None:
    """The offset in ``win`` of each bin's first day inside it (:func:`bin_starts`; the first is
    0), what services.web.rows sums bins by; None by day (each day its own bin)."""
    if bin == "day":
        return None
    edges = np.asarray([max((start - win.start).days, 0) for start in bin_starts(win, bin)], dtype=np.intp)
    edges.flags.writeable = False  # shared by every page of the same window
    return edges


def filled_of(matrix: Matrix, win: Window, bin: Bin = "day", send: int | None = None) -> dict[str, list[int]]:
    """:func:`zero_fill` of the matrix's series (one value per bin of ``win`` for every category
    with a download in it, in category order), folded to ``send`` categories (:func:`fold`) when
    it has more."""
    found = ordered(window_rows(matrix, win.start, win.days, edges_of(win, bin)), category_key)
    if send is not None and len(found[0]) > send:
        found = fold_rows(found, send)
    categories, values = found
    return dict(zip(categories, values.tolist(), strict=True))


def matrix_charts(
    by_dimension: Mapping[str, Matrix],
    win: Window,
    specs: Sequence[ChartSpec] = PACKAGE_CHARTS,
    *,
    folded: bool = True,
    bin: Bin = "day",
) -> dict[str, Any]:
    """The JSON embedded in a package page: the bins of ``win`` plus one chart per spec, from
    each dimension's :class:`Matrix` (shared.series.window_matrices). ``folded=False`` keeps
    every category even past a spec's ``send`` (the CSV download)."""
    charts = []
    width = len(bin_starts(win, bin))
    for spec in specs:
        found = by_dimension.get(spec.id)
        filled = filled_of(found, win, bin, spec.send if folded else None) if found is not None else {}
        if spec.categories:
            fixed = {c: filled.pop(c, [0] * width) for c in spec.categories}
            filled = fixed | filled
        charts.append(chart(spec, filled))
    return frame(win, bin, charts)


def compare_chart(
    by_package: Mapping[str, Sequence[PointLike]],
    win: Window,
    bin: Bin = "day",
    category: str = "without_mirrors",
) -> dict[str, Any]:
    """One chart, one line per package (downloads without mirrors, or of another overall
    ``category``: ``people``), in the order given."""
    days = {package: grouped(points, win).get(category, []) for package, points in by_package.items()}
    spec = COMPARE_CHART if category == "without_mirrors" else COMPARE_PEOPLE_CHART
    return frame(win, bin, [chart(spec, fill(days, win, bin))])


#: What the compare page can compare: downloads without mirrors, or the share of one category of
#: any dimension of the package page (id -> what its form says).
COMPARE_DIMENSIONS = {
    "overall": "downloads without mirrors",
    "people": "downloads by people",
    "python_major": "share of a Python major version",
    "python_minor": "share of a Python minor version",
    "system": "share of an operating system",
    "version": "share of a package version",
    "installer": "share of an installer (mirrors included)",
    "country": "share of a country",
    "file_type": "share of a file type",
    "ci": "share of CI downloads (true, false, null)",
    "platform": "share of a platform (manylinux x86_64, macOS arm64, sdist, ...)",
    "abi": "share of an ABI (cp313t, abi3, none, ...)",
}


def share_chart(
    by_package: Mapping[str, Sequence[PointLike]],
    dimension: str,
    category: str,
    win: Window,
    bin: Bin = "day",
) -> dict[str, Any]:
    """One line per package, in the order given: the percentage of its downloads in ``dimension``
    that fall in ``category``, bin by bin (0 in bins without downloads)."""
    spec = next(s for s in PACKAGE_CHARTS if s.id == dimension)
    filled: dict[str, list[float]] = {}
    for package, points in by_package.items():
        totals: dict[dt.date, int] = {}
        for p in points:
            if win.start <= p.day <= win.end:
                totals[p.day] = totals.get(p.day, 0) + p.downloads
        part = grouped(points, win).get(category, [])
        sums = fill({"total": sorted(totals.items()), "part": part}, win, bin)
        filled[package] = [
            round(100 * a / t, 2) if t else 0.0 for a, t in zip(sums["part"], sums["total"], strict=True)
        ]
    title = f"{spec.title.replace('Downloads by ', 'Share of downloads by ')}: {spec.label(category)}"
    drawn = chart(ChartSpec("compare", title, percent=False), filled)  # type: ignore[arg-type]
    drawn["unit"] = "%"
    return frame(win, bin, [drawn])


def to_csv(data: Mapping[str, Any], chart_id: str) -> str:
    """``date,<category>,...`` with one row per day, for the CSV download of one chart; binned,
    ``date`` is each bin's first day and a ``partial`` column (``true``/``false``) follows it,
    true where the range does not cover every day of the bin."""
    found = [c for c in data["charts"] if c["id"] == chart_id]
    if not found:
        raise KeyError(chart_id)
    series = found[0]["series"]
    binned = data.get("bin", "day") != "day"
    partial = data.get("partial", {})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", *(["partial"] if binned else []), *(s["category"] for s in series)])
    for i, day in enumerate(data["dates"]):
        flag = ["true" if day in partial else "false"] if binned else []
        writer.writerow([day, *flag, *(s["values"][i] for s in series)])
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
