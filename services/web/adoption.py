"""Adoption curves of a package page: each version group's share of the downloads from its release on (pure).

Owns the chart JSON of the adoption chart: for each grouping of the versions (by major, by minor,
and the versions themselves; shared.versions's rule, so ``2.0rc1`` is part of ``2.x``), one line
per group with its percentage of the package's downloads of every version in each bin (the
denominator counts every version, ``null`` and unparseable ones too), ``None`` in the bins before
the group's first download in the window (its release, or the window's start for a group out
before it), so a line starts where the group does. At most :data:`SHOWN` groups per grouping,
those with most downloads in the window. The chart opens on the majors when the window holds two
or more of them, else on the minors. Groups are in PEP 440 order. Sums per bin are services.web.charts's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from packaging.version import Version

from services.web import charts
from services.web.ranges import Window
from shared.bins import Bin
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


def grouped_days(
    by_version: Mapping[str, Sequence[tuple[Any, int]]], grouping: Grouping | None
) -> dict[str, list[tuple[Any, int]]]:
    """The days of each group (versions as logged when ``grouping`` is None; not PEP 440 ones left out)."""
    out: dict[str, dict[Any, int]] = {}
    for version, days in by_version.items():
        group = grouping.label(version) if grouping is not None else version
        if group == OTHER or (grouping is None and parse(version) is None):
            continue
        found = out.setdefault(group, {})
        for day, n in days:
            found[day] = found.get(day, 0) + n
    return {g: sorted(days.items()) for g, days in out.items()}


def adoption_chart(
    points: Iterable[charts.PointLike], win: Window, bin: Bin = "day"
) -> dict[str, Any] | None:
    """The adoption chart's JSON for the version points of ``win``, or None without any version."""
    by_version = charts.grouped(points, win)
    if not by_version:
        return None
    all_days = [(day, n) for days in by_version.values() for day, n in days]
    totals = charts.fill({"total": sorted(all_days)}, win, bin)["total"]
    groupings: dict[str, list[dict[str, Any]]] = {}
    for key, grouping in GROUPINGS.items():
        filled = charts.fill(grouped_days(by_version, grouping), win, bin)
        top = sorted(filled, key=lambda g: -sum(filled[g]))[:SHOWN]
        kept = {g: filled[g] for g in sorted(top, key=order)}
        groupings[key] = [
            {"category": g, "name": name_of(key, g), "values": values}
            for g, values in shares(kept, totals).items()
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
