"""The package page's charts from each dimension's Matrix (services.web.rows, charts.matrix_charts,
adoption.adoption_of) against the per-point path they replaced, on random series: the same chart
JSON, value for value, by day, week and month, folded or not, with windows that cut the series."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.web import adoption, charts, rows
from services.web.ranges import Window
from shared.bins import Bin
from shared.series import Matrix, Point, joined
from shared.versions import OTHER, Grouping, parse
from tests.support.matrices import adoption_chart, charts_of

START = dt.date(2025, 12, 20)
SPAN = 75  # across a month and a year boundary
CATEGORIES = ("3.10", "3.9", "2.7", "Linux", "linux", "Darwin", "other", "null", "pip", "uv")
VERSIONS = ("1.0", "1.1.0", "1.10", "2.0rc1", "2.0.0", "2.1", "10.0", "1!2.0", "null", "other", "junk")
BINS: tuple[Bin, ...] = ("day", "week", "month")


@st.composite
def points_of(draw: st.DrawFn, names: Sequence[str]) -> list[Point]:
    """Non-zero points (as stored) of some of ``names`` on random days, by category then day."""
    out: list[Point] = []
    for name in sorted(draw(st.sets(st.sampled_from(names), max_size=len(names)))):
        offsets = sorted(draw(st.sets(st.integers(0, SPAN - 1), min_size=1, max_size=20)))
        out += [Point(name, START + dt.timedelta(days=k), draw(st.integers(1, 10**6))) for k in offsets]
    return out


windows = st.tuples(st.integers(-5, SPAN + 5), st.integers(1, SPAN)).map(
    lambda a: Window(START + dt.timedelta(days=a[0]), START + dt.timedelta(days=a[0] + a[1] - 1))
)


def matrix_of(points: Sequence[Point]) -> Matrix:
    """The points as the store gives them (from their first to their last day, not the window's)."""
    groups: dict[str, list[tuple[dt.date, int]]] = {}
    for p in points:
        groups.setdefault(p.category, []).append((p.day, p.downloads))
    return Matrix.of_groups(sorted(groups.items()))


def reference_charts(
    by_dimension: Mapping[str, Sequence[Point]],
    win: Window,
    specs: Sequence[charts.ChartSpec],
    folded: bool,
    bin: Bin,
) -> dict[str, Any]:
    """The package page's charts as built before, point by point (zero_fill, fold)."""
    out = []
    width = len(charts.bin_starts(win, bin))
    for spec in specs:
        filled = charts.zero_fill(by_dimension.get(spec.id, ()), win, bin)
        if folded and spec.send is not None and len(filled) > spec.send:
            filled = charts.fold(filled, spec.send)
        if spec.categories:
            filled = {c: filled.pop(c, [0] * width) for c in spec.categories} | filled
        out.append(charts.chart(spec, filled))
    return charts.frame(win, bin, out)


SPECS = (
    charts.ChartSpec("a", "A", send=3),
    charts.ChartSpec("b", "B", categories=("Linux", "null", "Windows")),
    charts.ChartSpec("c", "C", send=1, categories=("other",)),
)


@settings(max_examples=300, deadline=None)
@given(points_of(CATEGORIES), points_of(CATEGORIES), windows, st.sampled_from(BINS), st.booleans())
def test_matrix_charts_are_the_per_point_charts(
    a: list[Point], b: list[Point], win: Window, bin: Bin, folded: bool
) -> None:
    # as series_window gives them: by category (string order), then day
    by_points = {"a": a, "b": b, "c": sorted(a + b, key=lambda p: p.category)}
    by_matrix = {d: matrix_of(points) for d, points in by_points.items() if points}
    by_matrix["c"] = joined([matrix_of(a), matrix_of(b)])  # a category in both is summed
    expected = reference_charts(by_points, win, SPECS, folded, bin)
    assert charts.matrix_charts(by_matrix, win, SPECS, folded=folded, bin=bin) == expected
    assert charts_of(by_points, win, SPECS, folded=folded, bin=bin) == expected


def test_a_window_past_the_series_has_zeros_and_sums_bins_inside_it_only() -> None:
    matrix = Matrix(dt.date(2026, 1, 30), ["3.12", "null"], np.array([[1, 2, 3, 4], [0, 0, 0, 5]]))
    win = Window(dt.date(2026, 1, 31), dt.date(2026, 2, 3))  # Saturday to Tuesday
    assert charts.filled_of(matrix, win) == {"3.12": [2, 3, 4, 0], "null": [0, 0, 5, 0]}
    assert charts.filled_of(matrix, win, "week") == {"3.12": [5, 4], "null": [0, 5]}
    assert charts.filled_of(matrix, win, "month") == {"3.12": [2, 7], "null": [0, 5]}
    assert charts.filled_of(matrix, Window(dt.date(2026, 2, 3), dt.date(2026, 2, 9))) == {}
    assert charts.filled_of(Matrix.empty(), win, "week") == {}


def test_fold_rows_keeps_the_most_downloaded_and_sums_the_rest_with_a_stored_other() -> None:
    found = rows.fold_rows((["a", "b", "c", "other"], np.array([[5, 0], [1, 1], [0, 3], [1, 0]])), 1)
    assert found[0] == ["a", "other"] and found[1].tolist() == [[5, 0], [2, 4]]
    kept = rows.fold_rows((["a", "b"], np.array([[1], [2]])), 2)
    assert kept[0] == ["a", "b"] and kept[1].tolist() == [[1], [2]]


def reference_adoption(points: Sequence[Point], win: Window, bin: Bin) -> dict[str, Any] | None:
    """The adoption chart as built before, point by point."""
    by_version = charts.grouped(points, win)
    if not by_version:
        return None
    all_days = [(day, n) for days in by_version.values() for day, n in days]
    totals = charts.fill({"total": sorted(all_days)}, win, bin)["total"]
    groupings: dict[str, list[dict[str, Any]]] = {}
    for key, grouping in adoption.GROUPINGS.items():
        filled = charts.fill(grouped_days(by_version, grouping), win, bin)
        top = sorted(filled, key=lambda g: -sum(filled[g]))[: adoption.SHOWN]
        kept = {g: filled[g] for g in sorted(top, key=adoption.order)}
        groupings[key] = [
            {"category": g, "name": adoption.name_of(key, g), "values": values}
            for g, values in adoption.shares(kept, totals).items()
        ]
    default = "major" if len(groupings["major"]) >= 2 else "minor"
    return {
        "id": "adoption",
        "title": adoption.TITLE,
        "kind": "lines",
        "percent": False,
        "top": None,
        "unit": "%",
        "series": groupings[default],
        "grouping": default,
        "groupings": groupings,
        "grouping_labels": adoption.GROUPING_LABELS,
    }


def grouped_days(
    by_version: Mapping[str, Sequence[tuple[dt.date, int]]], grouping: Grouping | None
) -> dict[str, list[tuple[dt.date, int]]]:
    out: dict[str, dict[dt.date, int]] = {}
    for version, days in by_version.items():
        group = grouping.label(version) if grouping is not None else version
        if group == OTHER or (grouping is None and parse(version) is None):
            continue
        found = out.setdefault(group, {})
        for day, n in days:
            found[day] = found.get(day, 0) + n
    return {g: sorted(days.items()) for g, days in out.items()}


@settings(max_examples=300, deadline=None)
@given(points_of(VERSIONS), windows, st.sampled_from(BINS))
def test_adoption_of_a_matrix_is_the_per_point_adoption(points: list[Point], win: Window, bin: Bin) -> None:
    expected = reference_adoption(points, win, bin)
    assert adoption.adoption_of(matrix_of(points) if points else Matrix.empty(), win, bin) == expected
    assert adoption_chart(points, win, bin) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), min_size=6, max_size=6), max_size=4), st.integers(0, 20_000))
def test_shares_of_are_pythons_shares(values: list[list[int]], extra: int) -> None:
    totals = [sum(column) + extra * (k % 2) for k, column in enumerate(zip(*values, strict=True))] or [0] * 6
    expected = list(adoption.shares({str(i): v for i, v in enumerate(values)}, totals).values())
    found = adoption.shares_of(
        np.array(values, dtype=np.int64).reshape(-1, 6), np.array(totals, dtype=np.int64)
    )
    assert found == expected


@pytest.mark.parametrize(
    ("v", "t"),
    [(1, 20_000), (3, 20_000), (13, 20_000), (1, 800), (1, 3)],
)
def test_shares_of_round_as_python_where_numpys_rounding_differs(v: int, t: int) -> None:
    """100 / 20,000 is 0.005 (a float just above it): Python rounds it to 0.01, numpy to 0.0."""
    values, totals = np.array([[0, v]], dtype=np.int64), np.array([t, t], dtype=np.int64)
    assert adoption.shares_of(values, totals) == [[None, round(100 * v / t, 2)]]
    assert adoption.shares_of(np.array([[1, 0]]), np.array([20_000, 0])) == [[0.01, None]]


def test_shares_of_beyond_float64s_exact_integers_are_pythons() -> None:
    big = adoption.EXACT * 3 + 7
    values = np.array([[big // 3, big // 7, 0]], dtype=np.int64)
    totals = np.array([big, big, big], dtype=np.int64)
    assert adoption.shares_of(values, totals) == [
        [round(100 * (big // 3) / big, 2), round(100 * (big // 7) / big, 2), 0.0]
    ]


def test_joined_lays_matrices_on_one_span_summing_a_shared_category() -> None:
    a = Matrix(dt.date(2026, 1, 2), ["with_mirrors"], np.array([[1, 2]]))
    b = Matrix(dt.date(2026, 1, 1), ["people", "with_mirrors"], np.array([[3, 0, 0, 4], [1, 0, 0, 0]]))
    found = joined([a, b, Matrix.empty()])
    assert found.start == dt.date(2026, 1, 1) and found.categories == ["people", "with_mirrors"]
    assert found.counts.tolist() == [[3, 0, 0, 4], [1, 1, 2, 0]]
    assert joined([Matrix.empty(), a]) is a and joined([]).categories == []
