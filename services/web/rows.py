"""A dimension's :class:`~shared.series.Matrix` as the rows of a chart: sums per bin of a window (pure, numpy).

Owns the numeric core of the package page's charts (services.web.charts, services.web.adoption):
a matrix's categories with a download in a window and their sums per day, week or month bin
(:func:`window_rows`), put in a given category order (:func:`ordered`) and folded to the most
downloaded ones plus "other" (:func:`fold_rows`), without a Python object per day. The same
numbers as summing points day by day (charts.fill, charts.fold), which the tests check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from shared.series import Matrix

#: One dimension's rows: its categories in order and their values (categories x bins).
Rows: TypeAlias = tuple[list[str], npt.NDArray[np.int64]]


def window_rows(matrix: Matrix, start: dt.date, days: int, edges: npt.NDArray[np.intp] | None = None) -> Rows:
    """The categories of ``matrix`` with a download in the ``days`` days from ``start`` (in the
    matrix's order) and their downloads on each of those days (0 where none), or, with ``edges``
    (the offset of each bin's first day in the window, the first 0), their sums per bin."""
    width = days if edges is None else len(edges)
    lo = (start - matrix.start).days  # the matrix's column of the window's first day
    a, b = max(lo, 0), min(lo + days, matrix.span)
    if not matrix.categories or a >= b:
        return [], np.zeros((0, width), dtype=np.int64)
    part = matrix.counts[:, a:b]
    some = np.flatnonzero(part.any(axis=1))
    if len(some) < len(matrix.categories):
        part = part[some]
        categories = [matrix.categories[i] for i in some.tolist()]
    else:
        categories = list(matrix.categories)
    if a > lo or b - lo < days:  # the matrix covers part of the window: zeros around it
        inside = np.zeros((len(categories), days), dtype=np.int64)
        inside[:, a - lo : b - lo] = part
        part = inside
    if edges is None:
        return categories, part
    return categories, np.add.reduceat(part, edges, axis=1)


def ordered(rows: Rows, key: Callable[[str], Any]) -> Rows:
    """``rows`` sorted by ``key`` of their category (equal keys keep their order)."""
    categories, values = rows
    order = sorted(range(len(categories)), key=lambda i: key(categories[i]))
    if order == list(range(len(categories))):
        return rows
    return [categories[i] for i in order], values[order]


def fold_rows(rows: Rows, keep: int, other: str = "other") -> Rows:
    """The ``keep`` categories with the most downloads (ties in their order; never ``other``),
    in their order, then the rest summed into a last ``other`` (a stored one included)."""
    categories, values = rows
    totals = values.sum(axis=1).tolist()
    ranked = sorted((i for i, c in enumerate(categories) if c != other), key=lambda i: -totals[i])
    kept = set(ranked[:keep])
    inside = [i for i in range(len(categories)) if i in kept]
    rest = [i for i in range(len(categories)) if i not in kept]
    if not rest:
        return [categories[i] for i in inside], values[inside]
    summed = values[rest].sum(axis=0, keepdims=True)
    return [*(categories[i] for i in inside), other], np.concatenate([values[inside], summed])
