"""The packed package-day layout (migrations 0006, 0008): cells, the category dictionary, run ids.

Owns how one package-day's counts are stored and read back. A package-day is one row of
``downloads`` (``downloads_all`` for ``__all__``): the overall counts as columns (``people``
since migration 0011), every other
non-zero count as one *cell*, the bigint ``category_id << 40 | downloads``, in an array sorted by
category id. The cells live in three arrays (:data:`COLUMN_OF`), so that a read of one dimension
decodes only its own array: ``cells`` (python_major, python_minor, system), ``details`` (installer,
country, file_type, ci, and since event schema 4 platform and abi) and ``versions`` (version: up to thousands a day; a large array is
compressed and stored out of line by PostgreSQL, and only readers of versions fetch it). ``categories`` maps ids to (dimension, category); ids are never reused, renamed or
deleted, so a process may cache them forever. ``ingest_runs`` maps run ids to small integers the
same way.

The pure half (:func:`pack`, :func:`unpack`, :func:`encode`, :func:`decode`) has no I/O; the
:class:`Dictionary` fetches and creates ids on the connection it is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

import asyncpg

COUNT_BITS: Final = 40
#: The largest count one cell holds (about 1.1e12 downloads of one category on one day).
MAX_DOWNLOADS: Final = (1 << COUNT_BITS) - 1
#: The largest category id (the CHECK on ``categories.id``).
MAX_CATEGORY_ID: Final = (1 << (63 - COUNT_BITS)) - 1
OVERALL: Final = "overall"
WITH_MIRRORS: Final = "with_mirrors"
WITHOUT_MIRRORS: Final = "without_mirrors"
#: Downloads by people (shared.installers): a third overall count, a column like the other two.
PEOPLE: Final = "people"

#: The array column of ``downloads`` holding each non-overall dimension's cells.
COLUMN_OF: Final = {
    "python_major": "cells",
    "python_minor": "cells",
    "system": "cells",
    "installer": "details",
    "country": "details",
    "file_type": "details",
    "ci": "details",
    "platform": "details",
    "abi": "details",
    "version": "versions",
}
CELL_COLUMNS: Final = ("cells", "details", "versions")

Key: TypeAlias = tuple[str, str]  # (dimension, category)
Conn: TypeAlias = "asyncpg.Pool | asyncpg.Connection"

ENSURE_CATEGORIES = """
INSERT INTO categories (dimension, category)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT (dimension, category) DO NOTHING
"""
CATEGORY_IDS = """
SELECT c.id, c.dimension, c.category
FROM categories c JOIN unnest($1::text[], $2::text[]) AS k (dimension, category)
  ON c.dimension = k.dimension AND c.category = k.category
"""
CATEGORY_NAMES = "SELECT id, dimension, category FROM categories WHERE id = ANY($1::int[])"
ENSURE_RUN = """
WITH new AS (
    INSERT INTO ingest_runs (run_id) VALUES ($1) ON CONFLICT (run_id) DO NOTHING RETURNING id
)
SELECT id FROM new UNION ALL SELECT id FROM ingest_runs WHERE run_id = $1
"""


class LayoutError(ValueError):
    """A count or category id that the packed layout cannot hold."""


def pack(category_id: int, downloads: int) -> int:
    """One cell; refuses what does not fit rather than storing a wrong number."""
    if not 0 < category_id <= MAX_CATEGORY_ID:
        raise LayoutError(f"category id {category_id} outside 1..{MAX_CATEGORY_ID}")
    if not 0 <= downloads <= MAX_DOWNLOADS:
        raise LayoutError(f"count {downloads} outside 0..{MAX_DOWNLOADS}")
    return (category_id << COUNT_BITS) | downloads


def unpack(cell: int) -> tuple[int, int]:
    """``(category_id, downloads)`` of one cell."""
    return cell >> COUNT_BITS, cell & MAX_DOWNLOADS


@dataclass(frozen=True)
class Packed:
    """One package-day as stored: the overall columns and the sorted cells of each array."""

    with_mirrors: int
    without_mirrors: int
    cells: list[int]
    details: list[int] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    people: int = 0

    @property
    def rows(self) -> int:
        """The number of non-zero (dimension, category) rows it holds."""
        overall = (self.with_mirrors > 0) + (self.without_mirrors > 0) + (self.people > 0)
        return overall + len(self.cells) + len(self.details) + len(self.versions)


def categories_of(rows: Iterable[tuple[str, str, int]]) -> set[Key]:
    """The (dimension, category) keys that need an id (non-zero, not overall)."""
    return {(d, c) for d, c, n in rows if n > 0 and d != OVERALL}


def encode(rows: Iterable[tuple[str, str, int]], ids: dict[Key, int]) -> Packed:
    """Pack non-zero ``(dimension, category, downloads)`` rows; ``ids`` must cover every key."""
    with_mirrors = without_mirrors = people = 0
    arrays: dict[str, list[int]] = {c: [] for c in CELL_COLUMNS}
    for dimension, category, downloads in rows:
        if downloads <= 0:
            continue
        if dimension == OVERALL:
            if category == WITH_MIRRORS:
                with_mirrors = downloads
            elif category == WITHOUT_MIRRORS:
                without_mirrors = downloads
            elif category == PEOPLE:
                people = downloads
            else:
                raise LayoutError(f"unknown overall category {category!r}")
        else:
            column = COLUMN_OF.get(dimension)
            if column is None:
                raise LayoutError(f"unknown dimension {dimension!r}")
            arrays[column].append(pack(ids[(dimension, category)], downloads))
    for array in arrays.values():
        array.sort()
    return Packed(
        with_mirrors, without_mirrors, arrays["cells"], arrays["details"], arrays["versions"], people
    )


def dimension_keys(dimensions: Iterable[tuple[str, Mapping[str, int]]]) -> set[Key]:
    """The (dimension, category) keys of ``(dimension, {category: downloads})`` pairs that need an id."""
    return {(d, c) for d, values in dimensions if d != OVERALL for c, n in values.items() if n > 0}


def encode_dimensions(dimensions: Iterable[tuple[str, Mapping[str, int]]], ids: dict[Key, int]) -> Packed:
    """:func:`encode` of ``(dimension, {category: downloads})`` pairs, without a tuple per count:
    the aggregator's hot path (a package-day may hold hundreds of counts). ``ids`` must cover
    every key; ids are in range by the ``categories`` CHECK, counts are checked here."""
    with_mirrors = without_mirrors = people = 0
    arrays: dict[str, list[int]] = {c: [] for c in CELL_COLUMNS}
    for dimension, values in dimensions:
        if not values:
            continue
        if min(values.values()) < 0 or max(values.values()) > MAX_DOWNLOADS:
            raise LayoutError(f"{dimension}: a count outside 0..{MAX_DOWNLOADS}")
        if dimension == OVERALL:
            if values.keys() - {WITH_MIRRORS, WITHOUT_MIRRORS, PEOPLE}:
                raise LayoutError(f"unknown overall categories {sorted(values.keys())!r}")
            with_mirrors = values.get(WITH_MIRRORS, 0)
            without_mirrors = values.get(WITHOUT_MIRRORS, 0)
            people = values.get(PEOPLE, 0)
            continue
        column = COLUMN_OF.get(dimension)
        if column is None:
            raise LayoutError(f"unknown dimension {dimension!r}")
        arrays[column].extend([(ids[(dimension, c)] << COUNT_BITS) | n for c, n in values.items() if n > 0])
    for array in arrays.values():
        array.sort()
    return Packed(
        with_mirrors, without_mirrors, arrays["cells"], arrays["details"], arrays["versions"], people
    )


def decode(
    with_mirrors: int, without_mirrors: int, cells: Sequence[int], names: dict[int, Key], people: int = 0
) -> list[tuple[str, str, int]]:
    """The non-zero ``(dimension, category, downloads)`` rows of a stored package-day; ``cells``
    may chain several arrays."""
    out: list[tuple[str, str, int]] = []
    if with_mirrors > 0:
        out.append((OVERALL, WITH_MIRRORS, with_mirrors))
    if without_mirrors > 0:
        out.append((OVERALL, WITHOUT_MIRRORS, without_mirrors))
    if people > 0:
        out.append((OVERALL, PEOPLE, people))
    for cell in cells:
        dimension, category = names[cell >> COUNT_BITS]
        out.append((dimension, category, cell & MAX_DOWNLOADS))
    return out


class Dictionary:
    """Category ids both ways, cached for the life of the process (ids never change meaning).

    Writers call :meth:`ids` (creating missing categories in their own short statement, outside
    any batch transaction, so a rolled-back batch leaves no id half-known); readers look cells up
    in :attr:`known` and call :meth:`load_names` when they meet an id not known yet. Concurrent
    callers share one lock.
    """

    def __init__(self) -> None:
        self._ids: dict[Key, int] = {}
        self._names: dict[int, Key] = {}
        self._lock = asyncio.Lock()

    def _learn(self, rows: Iterable[asyncpg.Record]) -> None:
        for r in rows:
            key = (r["dimension"], r["category"])
            self._ids[key] = r["id"]
            self._names[r["id"]] = key

    async def ids(self, conn: Conn, keys: Collection[Key]) -> dict[Key, int]:
        """Ids of ``keys``, creating the categories that do not exist yet."""
        if any(k not in self._ids for k in keys):
            async with self._lock:
                missing = sorted(k for k in keys if k not in self._ids)
                if missing:
                    dims, cats = [k[0] for k in missing], [k[1] for k in missing]
                    await conn.execute(ENSURE_CATEGORIES, dims, cats)
                    self._learn(await conn.fetch(CATEGORY_IDS, dims, cats))
        return self._ids

    @property
    def known(self) -> dict[int, Key]:
        """Every id this process has met, with its name (readers look cells up here)."""
        return self._names

    async def load_names(self, conn: Conn, cells: Iterable[Sequence[int]]) -> None:
        """Learn the names of the category ids in ``cells`` (arrays of cells) not known yet."""
        await self.load_ids(conn, {cell >> COUNT_BITS for array in cells for cell in array})

    async def load_ids(self, conn: Conn, ids: Iterable[int]) -> None:
        """Learn the names of the category ``ids`` not known yet."""
        missing = set(ids) - self._names.keys()
        if missing:
            async with self._lock:
                self._learn(await conn.fetch(CATEGORY_NAMES, sorted(missing - self._names.keys())))
            unknown = missing - self._names.keys()
            if unknown:
                raise LayoutError(f"category ids without a name: {sorted(unknown)[:5]}")


class Runs:
    """Run ids as small integers (``ingest_runs``), cached like categories."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    async def id(self, conn: Conn, run_id: str) -> int:
        """The run's id, created if new. Call it outside a transaction that may roll back."""
        found = self._ids.get(run_id)
        while found is None:
            # None only when another writer inserted the same run id concurrently and its row was
            # not yet visible to this statement's snapshot: the next statement sees it.
            found = await conn.fetchval(ENSURE_RUN, run_id)
        self._ids[run_id] = int(found)
        return int(found)
