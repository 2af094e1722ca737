"""Time series of packages, read from the packed package-day rows (shared/db/layout.py).

Owns turning stored package-days into what readers answer with: the non-zero
``(category, day, downloads)`` points of one dimension, ordered by category then day, for one
package (api, package page), several (compare, dashboard) or every dimension at once (page).
One package's history is one query: an index range scan on ``(package, day)`` in each month
partition the window touches. Overall counts come from plain columns; every other dimension is
decoded from its array of cells (``cells``, ``details`` or ``versions``) with the process's
:class:`~shared.db.layout.Dictionary`, which learns category names it has not met yet in one
extra query. ``/version?limit=N`` keeps the top N (:func:`top_groups`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import NamedTuple, TypeAlias, TypeVar

import asyncpg

from shared.db.layout import (
    COLUMN_OF,
    COUNT_BITS,
    MAX_DOWNLOADS,
    OVERALL,
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


# Time series read the packed package-day rows (shared/db/layout.py): one index range scan per
# month partition for one package's history. Every read is bounded below by visible_from(), the
# retention cutoff (days of a partly expired month stay on disk, unseen, until the month is
# dropped); that SQL function is inlined into an initplan, so the generic plans of asyncpg's
# prepared statements still prune partitions at executor start-up. An open range is passed as
# date.min/date.max, which PostgreSQL receives as -infinity/infinity.
OVERALL_DAYS = """
SELECT day, with_mirrors, without_mirrors FROM downloads
WHERE package = $1 AND day >= visible_from($2) AND day <= $3
ORDER BY day
"""
# One query per array column (shared/db/layout.py COLUMN_OF), so a read decodes only the array
# of its dimension. Written out rather than assembled: SQL stays constant text.
CELL_DAYS = """
SELECT day, cells FROM downloads
WHERE package = $1 AND day >= visible_from($2) AND day <= $3
ORDER BY day
"""
DETAIL_DAYS = """
SELECT day, details FROM downloads
WHERE package = $1 AND day >= visible_from($2) AND day <= $3
ORDER BY day
"""
VERSION_DAYS = """
SELECT day, versions FROM downloads
WHERE package = $1 AND day >= visible_from($2) AND day <= $3
ORDER BY day
"""
PACKAGE_DAYS = """
SELECT day, with_mirrors, without_mirrors, cells, details, versions FROM downloads
WHERE package = $1 AND day >= visible_from($2) AND day <= $3
ORDER BY day
"""
# ``__all__``: one row per day in downloads_all; $1 is unused, so every query takes the same arguments.
ALL_OVERALL_DAYS = """
SELECT day, with_mirrors, without_mirrors FROM downloads_all
WHERE $1::text IS NOT NULL AND day >= visible_from($2) AND day <= $3
ORDER BY day
"""
ALL_CELL_DAYS = """
SELECT day, cells FROM downloads_all
WHERE $1::text IS NOT NULL AND day >= visible_from($2) AND day <= $3
ORDER BY day
"""
ALL_DETAIL_DAYS = """
SELECT day, details FROM downloads_all
WHERE $1::text IS NOT NULL AND day >= visible_from($2) AND day <= $3
ORDER BY day
"""
# ``__all__`` has no versions: the empty array keeps the row shape of PACKAGE_DAYS.
ALL_PACKAGE_DAYS = """
SELECT day, with_mirrors, without_mirrors, cells, details, '{}'::bigint[] AS versions FROM downloads_all
WHERE $1::text IS NOT NULL AND day >= visible_from($2) AND day <= $3
ORDER BY day
"""
MANY_OVERALL_DAYS = """
SELECT package, day, with_mirrors, without_mirrors FROM downloads
WHERE package = ANY($1::text[]) AND day >= visible_from($2) AND day <= $3
ORDER BY package, day
"""
MANY_CELL_DAYS = """
SELECT package, day, cells FROM downloads
WHERE package = ANY($1::text[]) AND day >= visible_from($2) AND day <= $3
ORDER BY package, day
"""
MANY_DETAIL_DAYS = """
SELECT package, day, details FROM downloads
WHERE package = ANY($1::text[]) AND day >= visible_from($2) AND day <= $3
ORDER BY package, day
"""
MANY_VERSION_DAYS = """
SELECT package, day, versions FROM downloads
WHERE package = ANY($1::text[]) AND day >= visible_from($2) AND day <= $3
ORDER BY package, day
"""
#: The query of one dimension's array, by array column: (one package, ``__all__``, several packages).
#: ``__all__`` has no versions array; its version query reads nothing (``None``).
COLUMN_QUERIES: dict[str, tuple[str, str | None, str]] = {
    "cells": (CELL_DAYS, ALL_CELL_DAYS, MANY_CELL_DAYS),
    "details": (DETAIL_DAYS, ALL_DETAIL_DAYS, MANY_DETAIL_DAYS),
    "versions": (VERSION_DAYS, None, MANY_VERSION_DAYS),
}


def bounds(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """An open end as date.min/date.max (-infinity/infinity in PostgreSQL)."""
    return start or dt.date.min, end or dt.date.max


def overall_groups(rows: Iterable[Sequence[object]], category: str | None = None) -> Groups:
    """Groups of rows ``(day, with_mirrors, without_mirrors, ...)`` in day order."""
    rows = list(rows)
    out: Groups = []
    for name, index in ((WITH_MIRRORS, 1), (WITHOUT_MIRRORS, 2)):
        if category is None or category == name:
            days = [(r[0], r[index]) for r in rows if r[index] > 0]  # type: ignore[operator]
            if days:
                out.append((name, days))  # type: ignore[arg-type]
    return out


def cell_groups(
    rows: Iterable[tuple[dt.date, Sequence[int]]],
    names: dict[int, Key],
    dimension: str,
    category: str | None = None,
) -> Groups:
    """Groups of one dimension from rows ``(day, cells)`` in day order; raises KeyError for an
    unknown category id."""
    groups: dict[str, list[tuple[dt.date, int]]] = {}
    for day, cells in rows:
        for cell in cells:
            dim, cat = names[cell >> COUNT_BITS]
            if dim == dimension and (category is None or cat == category):
                days = groups.get(cat)
                if days is None:
                    days = groups[cat] = []
                days.append((day, cell & MAX_DOWNLOADS))
    return sorted(groups.items())


def top_groups(groups: Groups, n: int, other: str = "other") -> Groups:
    """The ``n`` categories of ``groups`` with most downloads in all, the rest summed per day under
    ``other`` (a stored category of that name is summed with the rest); category order kept."""
    totals = sorted((-sum(d for _, d in days), category) for category, days in groups if category != other)
    keep = {category for _, category in totals[:n]}
    rest: dict[dt.date, int] = {}
    out: Groups = []
    for category, days in groups:
        if category in keep:
            out.append((category, days))
        else:
            for day, downloads in days:
                rest[day] = rest.get(day, 0) + downloads
    if rest:
        out.append((other, sorted(rest.items())))
        out.sort(key=itemgetter(0))
    return out


def flatten(groups: Groups) -> list[Point]:
    """The points of ``groups``, by category then day."""
    new = tuple.__new__  # Point(...) without the extra Python frame of its generated __new__
    return [new(Point, (category, day, n)) for category, days in groups for day, n in days]


def overall_points(rows: Iterable[Sequence[object]], category: str | None = None) -> list[Point]:
    """Points of rows ``(day, with_mirrors, without_mirrors, ...)`` in day order."""
    return flatten(overall_groups(rows, category))


def dimension_points(rows: Iterable[Sequence[object]], names: dict[int, Key]) -> dict[str, list[Point]]:
    """Every dimension of rows ``(day, with_mirrors, without_mirrors, *arrays of cells)`` in day order."""
    rows = list(rows)
    out: dict[str, list[Point]] = {}
    overall = overall_points(rows)
    if overall:
        out[OVERALL] = overall
    new = tuple.__new__
    for r in rows:
        day = r[0]
        for array in r[3:]:
            for cell in array:  # type: ignore[attr-defined]
                dim, cat = names[cell >> COUNT_BITS]
                out.setdefault(dim, []).append(new(Point, (cat, day, cell & MAX_DOWNLOADS)))
    for points in out.values():
        points.sort(key=itemgetter(0))
    return out


async def _named(
    conn: Conn,
    names: Dictionary,
    cells: Callable[[], Iterable[Sequence[int]]],
    build: Callable[[dict[int, Key]], T],
) -> T:
    """``build(names)``, learning the category names first if some are new to this process."""
    try:
        return build(names.known)
    except KeyError:
        await names.load_names(conn, cells())
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
    lo, hi = bounds(start, end)
    everything = package == ALL_PACKAGES
    if dimension == OVERALL:
        rows = await conn.fetch(ALL_OVERALL_DAYS if everything else OVERALL_DAYS, package, lo, hi)
        return overall_groups(rows, category)
    one, every, _ = COLUMN_QUERIES[COLUMN_OF.get(dimension, "cells")]
    query = every if everything else one
    if query is None:
        return []
    found = await conn.fetch(query, package, lo, hi)
    pairs = [(r[0], r[1]) for r in found]
    return await _named(
        conn, names, lambda: (c for _, c in pairs), lambda n: cell_groups(pairs, n, dimension, category)
    )


async def series_window(
    conn: Conn, names: Dictionary, package: str, start: dt.date | None, end: dt.date | None
) -> dict[str, list[Point]]:
    """Every dimension of one package (or ``__all__``) in one query: points by dimension."""
    lo, hi = bounds(start, end)
    rows = await conn.fetch(ALL_PACKAGE_DAYS if package == ALL_PACKAGES else PACKAGE_DAYS, package, lo, hi)
    return await _named(
        conn, names, lambda: (a for r in rows for a in r[3:]), lambda n: dimension_points(rows, n)
    )


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
    lo, hi = bounds(start, end)
    grouped: dict[str, list[asyncpg.Record]] = {p: [] for p in packages}
    query = MANY_OVERALL_DAYS if dimension == OVERALL else COLUMN_QUERIES[COLUMN_OF.get(dimension, "cells")][2]
    for r in await conn.fetch(query, packages, lo, hi):
        grouped[r["package"]].append(r)
    if dimension == OVERALL:
        return {p: overall_points(((r[1], r[2], r[3]) for r in rows), category) for p, rows in grouped.items()}
    pairs = {p: [(r[1], r[2]) for r in rows] for p, rows in grouped.items()}
    return await _named(
        conn,
        names,
        lambda: (c for rows in pairs.values() for _, c in rows),
        lambda n: {p: flatten(cell_groups(rows, n, dimension, category)) for p, rows in pairs.items()},
    )
