"""Chart data stated as points in tests, turned into the :class:`~shared.series.Matrix` the
package page's charts are built from (services.web.charts.matrix_charts, services.web.adoption)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from services.web import adoption, charts
from services.web.ranges import Window
from shared.bins import Bin
from shared.series import Matrix


def matrix_of(points: Iterable[charts.PointLike], win: Window) -> Matrix:
    """The points inside ``win`` as a matrix over its days (points of one day summed)."""
    by_category = charts.grouped(points, win)
    categories = sorted(by_category)
    counts = np.zeros((len(categories), win.days), dtype=np.int64)
    for i, category in enumerate(categories):
        for day, downloads in by_category[category]:
            counts[i, (day - win.start).days] += downloads
    return Matrix(win.start, categories, counts)


def charts_of(
    by_dimension: Mapping[str, Sequence[charts.PointLike]],
    win: Window,
    specs: Sequence[charts.ChartSpec] = charts.PACKAGE_CHARTS,
    *,
    folded: bool = True,
    bin: Bin = "day",
) -> dict[str, Any]:
    """:func:`services.web.charts.matrix_charts` of points by dimension."""
    matrices = {dimension: matrix_of(points, win) for dimension, points in by_dimension.items()}
    return charts.matrix_charts(matrices, win, specs, folded=folded, bin=bin)


def adoption_chart(
    points: Iterable[charts.PointLike], win: Window, bin: Bin = "day"
) -> dict[str, Any] | None:
    """:func:`services.web.adoption.adoption_of` the version points of ``win``."""
    return adoption.adoption_of(matrix_of(points, win), win, bin)
