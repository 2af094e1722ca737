"""Adoption curves of a package page: each version group's share of the downloads from its release on (pure).

Owns the chart JSON of the adoption chart: for each grouping of the versions (by major, by minor,
and the versions themselves; shared.versions's rule, so ``2.0rc1`` is part of ``2.x``), one line
per group with its percentage of the package's downloads of every version in each bin (the
denominator counts every version, ``null`` and unparseable ones too), ``None`` in the bins before
the group's first download in the window (its release, or the window's start for a group out
before it), so a line starts where the group does. At most :data:`SHOWN` groups per grouping,
those with most downloads in the window. The chart opens on the majors when the window holds two
or more of them, else on the minors. Groups are in PEP 440 order. Built from the package's
version :class:`~shared.series.Matrix` with numpy (:func:`adoption_of`; sums per bin are
services.web.rows's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from packaging.version import Version

from services.web import charts
from services.web.ranges import Window
from services.web.rows import window_rows
from shared.bins import Bin
from shared.series import Matrix
from shared.versions import OTHER, Grouping, parse

SHOWN = 8
GROUPINGS: dict[str, Grouping | None] = {
    "major": Grouping("major"),
    "minor": Grouping("minor"),
    "version": None,
}
#: What the grouping selector says for each grouping.
GROUPING_LABELS = {"major": "major versions", "minor": "minor versions", "version": "versions"}
TITLE = "Adoption: share of downloads by version, from its release on"


def order(group: str) -> tuple[Version, str]:
    """Groups in PEP 440 order (``2.0rc1`` before ``2.0.0``, ``2.9`` before ``2.10``)."""
    return (parse(group) or Version("0"), group)


def name_of(grouping: str, group: str) -> str:
    """The legend label of a group: ``2.x``, ``2.1.x``, or a version as logged."""
    return group if grouping == "version" else f"{group}.x"


def shares(groups: Mapping[str, Sequence[int]], totals: Sequence[int]) -> dict[str, list[float | None]]:
    """Each group's percentage of ``totals`` per bin (2 decimals), None before its first download
    and in bins without any download."""
    out: dict[str, list[float | None]] = {}
    for group, values in groups.items():
        started = False
        line: list[float | None] = []
        for v, t in zip(values, totals, strict=True):
            started = started or v > 0
            line.append(round(100 * v / t, 2) if started and t else None)
        out[group] = line
    return out


#: Counts up to this stay exact in float64 when multiplied by 100, so numpy's shares are Python's.
EXACT = 2**53 // 100


def shares_of(values: npt.NDArray[np.int64], totals: npt.NDArray[np.int64]) -> list[list[float | None]]:
    """:func:`shares` of the rows of ``values`` (groups x bins), with numpy: the same floats
    (``100 * v / t`` rounded to 2 decimals as Python's ``round`` does: numpy's rounding, with
    Python's where the product lands so close to a half that they could differ)."""
    if not len(values):
        return []
    if int(totals.max()) > EXACT:  # beyond float64's exact integers: Python's own arithmetic
        return list(shares({str(i): row for i, row in enumerate(values.tolist())}, totals.tolist()).values())
    shown = np.logical_or.accumulate(values > 0, axis=1) & (totals > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = (100 * values) / totals  # int64 / int64: each exact as a float64, one division
    hundredths = quotient * 100
    rounded = (np.rint(hundredths) / 100).tolist()
    close = shown & (np.abs(hundredths - np.floor(hundredths) - 0.5) < 1e-6)
    for i, k in zip(*np.nonzero(close), strict=True):
        rounded[i][k] = round(float(quotient[i, k]), 2)
    return [
        [v if s else None for v, s in zip(row, seen, strict=True)]
        for row, seen in zip(rounded, shown.tolist(), strict=True)
    ]


def grouped_rows(
    categories: Sequence[str], values: npt.NDArray[np.int64], grouping: Grouping | None
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The groups of the versions ``categories`` (as logged when ``grouping`` is None; not PEP 440
    ones left out), in the order of their first version, and their rows of ``values`` summed."""
    names: list[str] = []
    index: dict[str, int] = {}
    picked: list[int] = []
    into: list[int] = []
    for i, version in enumerate(categories):
        group = grouping.label(version) if grouping is not None else version
        if group == OTHER or (grouping is None and parse(version) is None):
            continue
        j = index.get(group)
        if j is None:
            j = index[group] = len(names)
            names.append(group)
        picked.append(i)
        into.append(j)
    if len(names) == len(picked):  # a version per group
        return names, values[picked]
    sums = np.zeros((len(names), values.shape[1]), dtype=np.int64)
    np.add.at(sums, into, values[picked])
    return names, sums


def adoption_of(versions: Matrix, win: Window, bin: Bin = "day") -> dict[str, Any] | None:
    """The adoption chart's JSON from the version :class:`Matrix` of a package (every version,
    not folded), or None without a version downloaded in ``win``."""
    categories, values = window_rows(versions, win.start, win.days, charts.edges_of(win, bin))
    if not categories:
        return None
    totals = values.sum(axis=0)
    groupings: dict[str, list[dict[str, Any]]] = {}
    for key, grouping in GROUPINGS.items():
        names, sums = grouped_rows(categories, values, grouping)
        downloads = sums.sum(axis=1).tolist()
        top = sorted(range(len(names)), key=lambda g: -downloads[g])[:SHOWN]
        kept = sorted(top, key=lambda g: order(names[g]))
        groupings[key] = [
            {"category": names[g], "name": name_of(key, names[g]), "values": line}
            for g, line in zip(kept, shares_of(sums[kept], totals), strict=True)
        ]
    default = "major" if len(groupings["major"]) >= 2 else "minor"
    return {
        "id": "adoption",
        "title": TITLE,
        "kind": "lines",
        "percent": False,
        "top": None,
        "unit": "%",
        "series": groupings[default],
        "grouping": default,
        "groupings": groupings,
        "grouping_labels": GROUPING_LABELS,
    }
