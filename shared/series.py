"""Time series of packages, read from the history store: open package-days and compacted months.

Owns turning stored rows into what readers answer with: the non-zero ``(category, day,
downloads)`` points of one dimension, ordered by category then day, for one package, several
(compare, dashboard) or every dimension at once (ecosystem), or the same series as a
:class:`Matrix` per dimension, categories x days without a Python object per point (the api's
bodies; the package page's charts, every dimension at once: :func:`window_matrices`).

One package's history is one query, a UNION of its open package-days (``downloads_days``, one
index lookup: shared/db/layout.py) and its compacted months (``downloads_months``, one index
lookup per year partition the window touches: shared/db/history.py): at most 3 lookups for the
default 180-day window, 12 for ten years. Each read fetches only its dimension's array or
block. The rows are merged on one day axis (:class:`~shared.db.history.Frame`): an open
package-day replaces its day of a compacted month whole (a late re-ingest, or a tombstone that
removes the package from that day). Category names come from the process's
:class:`~shared.db.layout.Dictionary`, which learns ids it has not met yet in one extra query.
``/version?limit=N`` keeps the top N (:func:`top_matrix`).

Every read is bounded below by the retention cutoff (rows older than it may stay on disk,
unseen, until their partition is dropped), read by an initplan subquery of ``retention_state``
(the SQL function ``visible_from()`` would be planned afresh on every execution); the month
partitions are pruned by a plain parameter, the first day of the read's first month
(:func:`bounds`), so the generic plans of asyncpg's prepared statements prune them cheaply. An
open range is passed as date.min/date.max, which PostgreSQL receives as -infinity/infinity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple, TypeAlias, TypeVar

import numpy as np

from shared.db.history import Counts, Frame, dates_of, month_days, series_of
from shared.db.layout import (
    COLUMN_OF,
    COUNT_BITS,
    OVERALL,
    PEOPLE,
    WITH_MIRRORS,
    WITHOUT_MIRRORS,
    Conn,
    Dictionary,
    Key,
)
from shared.packages import ALL_PACKAGES

T = TypeVar("T")


class Point(NamedTuple):
    category: str
    day: dt.date
    downloads: int


#: Categories in string order, each with its non-zero ``(day, downloads)`` in day order.
Groups: TypeAlias = list[tuple[str, list[tuple[dt.date, int]]]]


@dataclass(frozen=True, slots=True)
class Matrix:
    """One dimension over consecutive days as categories x days: ``counts[i, k]`` is the downloads
    of ``categories[i]`` (in string order, each with some download) on day ``start + k``; zero
    is no download. The same series as :data:`Groups`, without a Python object per point."""

    start: dt.date
    categories: list[str]
    counts: Counts

    @property
    def span(self) -> int:
        return int(self.counts.shape[1])

    @classmethod
    def empty(cls) -> Matrix:
        return cls(dt.date.min, [], np.zeros((0, 0), dtype=np.int64))

    @classmethod
    def of_groups(cls, groups: Groups) -> Matrix:
        """The matrix of ``groups`` (from the first to the last day with a point)."""
        days = [day for _, points in groups for day, _ in points]
        if not days:
            return cls.empty()
        start = min(days)
        counts = np.zeros((len(groups), (max(days) - start).days + 1), dtype=np.int64)
        for i, (_, points) in enumerate(groups):
            for day, n in points:
                counts[i, (day - start).days] = n
        return cls(start, [category for category, _ in groups], counts)

    def groups(self) -> Groups:
        dates = dates_of(self.start, self.span) if self.span else []
        rows = series_of(np.arange(len(self.categories)), self.counts, dates)
        return [(self.categories[i], days) for i, days in rows]


# Rows of a dimension read: (day, cells, block, lo). An open package-day has its array of cells
# and no block; a compacted month has its first day, its block and the read's lower bound (the
# month's days before it are not shown). Overall reads have (day, with, without, block, lo).
OVERALL_DAYS = """
SELECT day, with_mirrors, without_mirrors, NULL::bytea AS block, NULL::integer AS days, NULL::date AS lo
FROM downloads_days
WHERE package = $1
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, with_mirrors, without_mirrors, overall, days,
       greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
CELL_DAYS = """
SELECT day, cells, NULL::bytea AS block, NULL::date AS lo FROM downloads_days
WHERE package = $1
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, NULL, cells, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state)) FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
DETAIL_DAYS = """
SELECT day, details, NULL::bytea AS block, NULL::date AS lo FROM downloads_days
WHERE package = $1
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, NULL, details, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state)) FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
VERSION_DAYS = """
SELECT day, versions, NULL::bytea AS block, NULL::date AS lo FROM downloads_days
WHERE package = $1
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, NULL, versions, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state)) FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
# Every dimension: (day, with, without, cells, details, versions, overall/cells/details/versions
# blocks, lo).
PACKAGE_DAYS = """
SELECT day, with_mirrors, without_mirrors, cells, details, versions,
       NULL::bytea AS b0, NULL::bytea AS b1, NULL::bytea AS b2, NULL::bytea AS b3, NULL::date AS lo
FROM downloads_days
WHERE package = $1
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, 0, 0, NULL, NULL, NULL, overall, cells, details, versions, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state)) FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
# ``__all__``: its open days are rows of downloads_all, its compacted months rows of package
# '__all__'; $1 is that name, so every query takes the same arguments.
ALL_OVERALL_DAYS = """
SELECT day, with_mirrors, without_mirrors, NULL::bytea AS block, NULL::integer AS days, NULL::date AS lo
FROM downloads_all
WHERE $1::text IS NOT NULL
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, with_mirrors, without_mirrors, overall, days,
       greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
ALL_CELL_DAYS = """
SELECT day, cells, NULL::bytea AS block, NULL::date AS lo FROM downloads_all
WHERE $1::text IS NOT NULL
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, NULL, cells, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state)) FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
ALL_DETAIL_DAYS = """
SELECT day, details, NULL::bytea AS block, NULL::date AS lo FROM downloads_all
WHERE $1::text IS NOT NULL
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, NULL, details, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state)) FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
# ``__all__`` has no versions: the empty array and block keep the row shape of PACKAGE_DAYS.
ALL_PACKAGE_DAYS = """
SELECT day, with_mirrors, without_mirrors, cells, details, '{}'::bigint[] AS versions,
       NULL::bytea AS b0, NULL::bytea AS b1, NULL::bytea AS b2, NULL::bytea AS b3, NULL::date AS lo
FROM downloads_all
WHERE $1::text IS NOT NULL
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, 0, 0, NULL, NULL, NULL, overall, cells, details, ''::bytea, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state)) FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
MANY_OVERALL_DAYS = """
SELECT package, day, with_mirrors, without_mirrors, NULL::bytea AS block, NULL::integer AS days, NULL::date AS lo
FROM downloads_days
WHERE package = ANY($1::text[])
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT package, month, with_mirrors, without_mirrors, overall, days,
       greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
FROM downloads_months
WHERE package = ANY($1::text[]) AND month >= $4 AND month <= $3
"""
MANY_CELL_DAYS = """
SELECT package, day, cells, NULL::bytea AS block, NULL::date AS lo FROM downloads_days
WHERE package = ANY($1::text[])
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT package, month, NULL, cells, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state)) FROM downloads_months
WHERE package = ANY($1::text[]) AND month >= $4 AND month <= $3
"""
MANY_DETAIL_DAYS = """
SELECT package, day, details, NULL::bytea AS block, NULL::date AS lo FROM downloads_days
WHERE package = ANY($1::text[])
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT package, month, NULL, details, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state)) FROM downloads_months
WHERE package = ANY($1::text[]) AND month >= $4 AND month <= $3
"""
MANY_VERSION_DAYS = """
SELECT package, day, versions, NULL::bytea AS block, NULL::date AS lo FROM downloads_days
WHERE package = ANY($1::text[])
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT package, month, NULL, versions, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state)) FROM downloads_months
WHERE package = ANY($1::text[]) AND month >= $4 AND month <= $3
"""
#: The query of one dimension's array, by array column: (one package, ``__all__``, several packages).
#: ``__all__`` has no versions array; its version query reads nothing (``None``).
COLUMN_QUERIES: dict[str, tuple[str, str | None, str]] = {
    "cells": (CELL_DAYS, ALL_CELL_DAYS, MANY_CELL_DAYS),
    "details": (DETAIL_DAYS, ALL_DETAIL_DAYS, MANY_DETAIL_DAYS),
    "versions": (VERSION_DAYS, None, MANY_VERSION_DAYS),
}
#: The pseudo category ids of the overall counts in a frame (the ids of their compacted block).
OVERALL_NAMES: dict[int, Key] = {
    0: (OVERALL, WITH_MIRRORS),
    1: (OVERALL, WITHOUT_MIRRORS),
    2: (OVERALL, PEOPLE),
}
#: The overall categories a read without ``who=people`` answers (pypistats.org's two).
MIRROR_CATEGORIES = (WITH_MIRRORS, WITHOUT_MIRRORS)
# Downloads by people (overall category ``people``, migration 0011): an open day's ``people``
# column as the one cell of pseudo id 2, beside the compacted months' overall blocks, so the
# frame reads it like an array dimension. Only ``who=people`` reads it; the reads above answer
# pypistats.org's two categories (people in a compacted block is left out of them).
PEOPLE_DAYS = """
SELECT day, CASE WHEN people > 0 THEN ARRAY[(2::bigint << 40) | people] ELSE '{}'::bigint[] END,
       NULL::bytea AS block, NULL::date AS lo FROM downloads_days
WHERE package = $1
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, NULL, overall, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
ALL_PEOPLE_DAYS = """
SELECT day, CASE WHEN people > 0 THEN ARRAY[(2::bigint << 40) | people] ELSE '{}'::bigint[] END,
       NULL::bytea AS block, NULL::date AS lo FROM downloads_all
WHERE $1::text IS NOT NULL
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT month, NULL, overall, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
FROM downloads_months
WHERE package = $1 AND month >= $4 AND month <= $3
"""
MANY_PEOPLE_DAYS = """
SELECT package, day, CASE WHEN people > 0 THEN ARRAY[(2::bigint << 40) | people] ELSE '{}'::bigint[] END,
       NULL::bytea AS block, NULL::date AS lo FROM downloads_days
WHERE package = ANY($1::text[])
  AND day >= greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
  AND day <= $3
UNION ALL
SELECT package, month, NULL, overall, greatest($2::date, (SELECT coalesce(max(cutoff), '-infinity') FROM retention_state))
FROM downloads_months
WHERE package = ANY($1::text[]) AND month >= $4 AND month <= $3
"""
_WITHOUT_ID = 1 << COUNT_BITS


def bounds(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date, dt.date]:
    """``(lo, hi, first month)`` of a read: an open end as date.min/date.max (-infinity/infinity
    in PostgreSQL), and the first day of ``lo``'s month, a plain parameter the month partitions
    are pruned by (no function of the retention state in the bound, so the pruning is cheap)."""
    lo, hi = start or dt.date.min, end or dt.date.max
    return lo, hi, lo.replace(day=1)


def overall_cells(with_mirrors: int, without_mirrors: int) -> list[int]:
    """An open package-day's overall counts as cells of the pseudo ids 0 and 1."""
    cells = [with_mirrors] if with_mirrors > 0 else []
    if without_mirrors > 0:
        cells.append(_WITHOUT_ID | without_mirrors)
    return cells


def frame_of(
    rows: Sequence[Sequence[object]],
    hi: dt.date,
    cells: int,
    block: int,
    overall: bool = False,
    monthly: bool = False,
) -> Frame:
    """The frame of rows ``(day, ..., lo)``: ``cells`` and ``block`` are the column indexes of an
    open day's array (for ``overall``: of with_mirrors, then without_mirrors) and of a month's
    block; ``lo`` (last column) bounds a month's days from below, ``hi`` from above.

    ``monthly`` (overall rows ``(day, with, without, block, days, lo)`` only) is for bins of a
    month or longer: a compacted month whose every package-day (``days`` bitmap) is in the read
    and that no open day replaces is taken from its sums, laid on its first day read, without
    decoding its block. The frame's month and year sums are then exact; its days are not."""
    first: dt.date | None = None
    last: dt.date | None = None
    shown = []
    for r in rows:
        day: dt.date = r[0]  # type: ignore[assignment]
        if r[block] is None:
            a, b = day, day
        else:
            lo: dt.date = r[-1]  # type: ignore[assignment]
            a = max(day, lo)
            b = min(day + dt.timedelta(days=month_days(day) - 1), hi)
            if a > b:  # a month wholly before the retention cutoff (its year not dropped yet)
                continue
        shown.append((r, a, b))
        first = a if first is None or a < first else first
        last = b if last is None or b > last else last
    frame = Frame(first or dt.date.min, last or dt.date.min)
    if first is None:
        frame.span = 0
        return frame
    replaced = {r[0].replace(day=1) for r, _, _ in shown if r[block] is None} if monthly else set()  # type: ignore[attr-defined]
    for r, a, b in shown:
        if r[block] is None:
            found = overall_cells(r[cells], r[cells + 1]) if overall else r[cells]  # type: ignore[arg-type]
            frame.add_cells(r[0], found)  # type: ignore[arg-type]
        elif monthly and r[0] not in replaced and _all_days_in(r[block + 1], a.day, b.day):  # type: ignore[arg-type]
            frame.add_cells(a, overall_cells(r[cells], r[cells + 1]))  # type: ignore[arg-type]
        elif r[block]:
            frame.add_block(r[0], r[block])  # type: ignore[arg-type]
    return frame


def _all_days_in(bitmap: int, first: int, last: int) -> bool:
    """Whether every day set in a month's ``days`` bitmap is within days ``first..last``."""
    inside = ((1 << last) - 1) & ~((1 << (first - 1)) - 1)
    return bitmap & ~inside == 0


def frame_groups(frame: Frame, names: dict[int, Key], dimension: str, category: str | None = None) -> Groups:
    """Groups of one dimension of ``frame``; raises KeyError for an unknown category id."""
    return frame_matrix(frame, names, dimension, category).groups()


def frame_matrix(frame: Frame, names: dict[int, Key], dimension: str, category: str | None = None) -> Matrix:
    """The :class:`Matrix` of one dimension of ``frame``; raises KeyError for an unknown category id."""
    if frame.span == 0:
        return Matrix.empty()
    ids, counts = frame.matrix()
    keys = [names[cid] for cid in ids.tolist()]
    keep = [i for i, key in enumerate(keys) if _matches(key, dimension, category)]
    if keep and len(keep) < len(keys):
        counts = counts[keep]
    elif not keep:
        return Matrix(frame.start, [], np.zeros((0, frame.span), dtype=np.int64))
    some = np.any(counts, axis=1).tolist()  # an open day may have replaced a category's only downloads
    order = sorted((keys[i][1], j) for j, i in enumerate(keep) if some[j])
    if len(order) < len(keep) or any(j != n for n, (_, j) in enumerate(order)):
        counts = counts[[j for _, j in order]]
    return Matrix(frame.start, [c for c, _ in order], counts)


def top_matrix(matrix: Matrix, n: int, other: str = "other") -> Matrix:
    """The ``n`` categories of ``matrix`` with most downloads in all (ties in string order), the
    rest summed per day under ``other`` (a stored category of that name is summed with the rest);
    category order kept."""
    totals = matrix.counts.sum(axis=1).tolist()
    ranked = sorted(
        (-t, c, i) for i, (c, t) in enumerate(zip(matrix.categories, totals, strict=True)) if c != other
    )
    keep = sorted(i for _, _, i in ranked[:n])
    if len(keep) == len(matrix.categories):
        return matrix
    rest = np.delete(matrix.counts, keep, axis=0).sum(axis=0)
    rows = [(matrix.categories[i], matrix.counts[i]) for i in keep]
    if rest.any():
        rows.append((other, rest))
        rows.sort(key=itemgetter(0))
    counts = np.stack([r for _, r in rows]) if rows else np.zeros((0, matrix.span), dtype=np.int64)
    return Matrix(matrix.start, [c for c, _ in rows], counts)


def _mirrors_only(matrix: Matrix) -> Matrix:
    """An overall matrix without ``people``: compacted months hold it in their overall block, and
    only ``who=people`` reads it (its own query)."""
    if PEOPLE not in matrix.categories:
        return matrix
    keep = [i for i, c in enumerate(matrix.categories) if c != PEOPLE]
    return Matrix(matrix.start, [matrix.categories[i] for i in keep], matrix.counts[keep])


def _matches(key: Key, dimension: str, category: str | None) -> bool:
    return key[0] == dimension and (category is None or key[1] == category)


def flatten(groups: Groups) -> list[Point]:
    """The points of ``groups``, by category then day."""
    new = tuple.__new__  # Point(...) without the extra Python frame of its generated __new__
    return [new(Point, (category, day, n)) for category, days in groups for day, n in days]


def _ids(frames: Iterable[Frame]) -> list[int]:
    """Every category id of ``frames`` (to learn the names of)."""
    out: set[int] = set()
    for frame in frames:
        out.update(frame.ids())
    return sorted(out)


async def _named(
    conn: Conn, names: Dictionary, frames: Callable[[], Iterable[Frame]], build: Callable[[dict[int, Key]], T]
) -> T:
    """``build(names)``, learning the category names first if some are new to this process."""
    try:
        return build(names.known)
    except KeyError:
        await names.load_ids(conn, _ids(frames()))
        return build(names.known)


async def series_groups(
    conn: Conn,
    names: Dictionary,
    package: str,
    dimension: str,
    category: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Groups:
    """One dimension of one package (or ``__all__``): its categories in order, each with its
    non-zero days in order (what the API writes its bodies from, without a point per day)."""
    return (await series_matrix(conn, names, package, dimension, category, start, end)).groups()


async def series_matrix(
    conn: Conn,
    names: Dictionary,
    package: str,
    dimension: str,
    category: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    monthly: bool = False,
) -> Matrix:
    """One dimension of one package (or ``__all__``) as a :class:`Matrix` (what the API writes its
    bodies from, without a Python object per point). ``monthly``: the matrix is only ever summed
    per month or year, so overall months are read from their sums (:func:`frame_of`)."""
    lo, hi, month = bounds(start, end)
    everything = package == ALL_PACKAGES
    if dimension == OVERALL and category == PEOPLE:
        rows = await conn.fetch(ALL_PEOPLE_DAYS if everything else PEOPLE_DAYS, package, lo, hi, month)
        return frame_matrix(frame_of(rows, hi, 1, 2), OVERALL_NAMES, OVERALL, PEOPLE)
    if dimension == OVERALL:
        rows = await conn.fetch(ALL_OVERALL_DAYS if everything else OVERALL_DAYS, package, lo, hi, month)
        frame = frame_of(rows, hi, 1, 3, overall=True, monthly=monthly)
        return _mirrors_only(frame_matrix(frame, OVERALL_NAMES, OVERALL, category))
    one, every, _ = COLUMN_QUERIES[COLUMN_OF.get(dimension, "cells")]
    query = every if everything else one
    if query is None:
        return Matrix.empty()
    frame = frame_of(await conn.fetch(query, package, lo, hi, month), hi, 1, 2)
    return await _named(conn, names, lambda: [frame], lambda n: frame_matrix(frame, n, dimension, category))


def _matrices(frames: Sequence[Frame], names: dict[int, Key]) -> dict[str, Matrix]:
    """Every dimension of the frames of one package (overall first, then the three arrays), each
    as a :class:`Matrix` over the frames' span: one ``Frame.matrix`` per frame, split by
    dimension; categories in string order, those without a download (an open day may have
    replaced a category's only downloads) left out, and dimensions without any."""
    out: dict[str, Matrix] = {}
    for index, frame in enumerate(frames):
        if frame.span == 0:
            continue
        ids, counts = frame.matrix()
        table = OVERALL_NAMES if index == 0 else names
        some = np.any(counts, axis=1).tolist()
        rows: dict[str, list[tuple[str, int]]] = {}
        for i, cid in enumerate(ids.tolist()):
            dimension, category = table[cid]
            if some[i] and not (index == 0 and category == PEOPLE):  # only who=people reads it
                rows.setdefault(dimension, []).append((category, i))
        for dimension, found in rows.items():
            found.sort()
            out[dimension] = Matrix(frame.start, [c for c, _ in found], counts[[i for _, i in found]])
    return out


def _dimensions(frames: Sequence[Frame], names: dict[int, Key]) -> dict[str, list[Point]]:
    """Every dimension of the frames of one package as points, by category then day."""
    return {dimension: flatten(matrix.groups()) for dimension, matrix in _matrices(frames, names).items()}


def joined(matrices: Iterable[Matrix]) -> Matrix:
    """One matrix of the categories of ``matrices`` (in string order) over the days of them all;
    a category in several is summed day by day (e.g. a package's overall counts and its people)."""
    present = [m for m in matrices if m.categories and m.span]
    if len(present) <= 1:
        return present[0] if present else Matrix.empty()
    start = min(m.start for m in present)
    span = max((m.start - start).days + m.span for m in present)
    names = sorted({c for m in present for c in m.categories})
    index = {c: i for i, c in enumerate(names)}
    counts = np.zeros((len(names), span), dtype=np.int64)
    for m in present:
        offset = (m.start - start).days
        counts[[index[c] for c in m.categories], offset : offset + m.span] += m.counts
    return Matrix(start, names, counts)


async def _window_frames(conn: Conn, package: str, start: dt.date | None, end: dt.date | None) -> list[Frame]:
    """The four frames of one package (or ``__all__``) in one query: overall, then the arrays."""
    lo, hi, month = bounds(start, end)
    rows = await conn.fetch(
        ALL_PACKAGE_DAYS if package == ALL_PACKAGES else PACKAGE_DAYS, package, lo, hi, month
    )
    overall = [(r[0], r[1], r[2], r[6], r[10]) for r in rows]
    frames = [frame_of(overall, hi, 1, 3, overall=True)]
    frames += [frame_of([(r[0], r[3 + g], r[7 + g], r[10]) for r in rows], hi, 1, 2) for g in range(3)]
    return frames


async def series_window(
    conn: Conn, names: Dictionary, package: str, start: dt.date | None, end: dt.date | None
) -> dict[str, list[Point]]:
    """Every dimension of one package (or ``__all__``) in one query: points by dimension."""
    frames = await _window_frames(conn, package, start, end)
    return await _named(conn, names, lambda: frames[1:], lambda n: _dimensions(frames, n))


async def window_matrices(
    conn: Conn, names: Dictionary, package: str, start: dt.date | None, end: dt.date | None
) -> dict[str, Matrix]:
    """Every dimension of one package (or ``__all__``) in one query, each as a :class:`Matrix`
    (what the package page draws its charts from, without a Python object per point); overall
    without ``people`` (only who=people reads it: :func:`series_matrix`)."""
    frames = await _window_frames(conn, package, start, end)
    return await _named(conn, names, lambda: frames[1:], lambda n: _matrices(frames, n))


async def series_many(
    conn: Conn,
    names: Dictionary,
    packages: list[str],
    dimension: str,
    category: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, list[Point]]:
    """Points of one dimension of several packages (not ``__all__``) in one query."""
    lo, hi, month = bounds(start, end)
    grouped: dict[str, list[tuple[object, ...]]] = {p: [] for p in packages}
    if dimension == OVERALL and category == PEOPLE:
        for r in await conn.fetch(MANY_PEOPLE_DAYS, packages, lo, hi, month):
            grouped[r[0]].append(tuple(r)[1:])
        return {
            p: flatten(frame_groups(frame_of(rows, hi, 1, 2), OVERALL_NAMES, OVERALL, PEOPLE))
            for p, rows in grouped.items()
        }
    overall = dimension == OVERALL
    query = MANY_OVERALL_DAYS if overall else COLUMN_QUERIES[COLUMN_OF.get(dimension, "cells")][2]
    for r in await conn.fetch(query, packages, lo, hi, month):
        grouped[r[0]].append(tuple(r)[1:])
    if overall:
        return {
            p: flatten(
                [
                    g
                    for g in frame_groups(
                        frame_of(rows, hi, 1, 3, overall=True), OVERALL_NAMES, OVERALL, category
                    )
                    if g[0] in MIRROR_CATEGORIES
                ]
            )
            for p, rows in grouped.items()
        }
    frames = {p: frame_of(rows, hi, 1, 2) for p, rows in grouped.items()}
    return await _named(
        conn,
        names,
        lambda: frames.values(),
        lambda n: {p: flatten(frame_groups(f, n, dimension, category)) for p, f in frames.items()},
    )
