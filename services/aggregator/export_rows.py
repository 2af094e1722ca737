"""A day of every package as Arrow tables, from the history store's rows (pure, no I/O).

Owns turning the rows :data:`DAY_ROWS` returns (one per package holding the day: its open
package-day in ``downloads_days``, or its compacted month in ``downloads_months`` when no open
package-day replaces that day) into long-format Arrow tables of :data:`SCHEMA`: one row per
non-zero (package, dimension, category) count, sorted. The work is numpy and Arrow on whole
chunks (no Python object per count): an open row's arrays of cells and a month's blocks
(shared/db/history.py, the day's column) become one array of category ids and one of counts;
the ids are named through the category dictionary (shared/db/layout.py), the overall counts
through the pseudo ids of :data:`OVERALL_KEYS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final

import numpy as np
import pyarrow as pa

from shared.db.history import Counts, Ids, decode_block, month_days
from shared.db.layout import COUNT_BITS, MAX_DOWNLOADS, OVERALL, PEOPLE, WITH_MIRRORS, WITHOUT_MIRRORS, Key
from shared.packages import ALL_PACKAGES

SCHEMA: Final = pa.schema(
    [
        ("day", pa.date32()),
        ("package", pa.string()),
        ("dimension", pa.string()),
        ("category", pa.string()),
        ("downloads", pa.int64()),
    ]
)
#: Pseudo category ids of the overall counts (real ids are positive): a month's overall block
#: holds them as 0, 1, 2 (shared/db/history.py), stored as ``-1 - id``.
OVERALL_KEYS: Final[dict[int, Key]] = {
    -1: (OVERALL, WITH_MIRRORS),
    -2: (OVERALL, WITHOUT_MIRRORS),
    -3: (OVERALL, PEOPLE),
}
SORT: Final = [("package", "ascending"), ("dimension", "ascending"), ("category", "ascending")]

#: Every package holding the day ($1): its open package-day, or else its compacted month ($2,
#: bit $3 of its days set). ``__all__`` ($4) is left out: it is the sum of the packages.
DAY_ROWS = """
SELECT package, with_mirrors, without_mirrors, people, cells, details, versions,
       NULL::bytea AS b0, NULL::bytea AS b1, NULL::bytea AS b2, NULL::bytea AS b3
FROM downloads_days WHERE day = $1
UNION ALL
SELECT m.package, 0, 0, 0, NULL, NULL, NULL, m.overall, m.cells, m.details, m.versions
FROM downloads_months m
WHERE m.month = $2 AND m.package <> $4 AND m.days & $3::int <> 0
  AND NOT EXISTS (SELECT 1 FROM downloads_days d WHERE d.package = m.package AND d.day = $1)
"""


def day_row_args(day: dt.date) -> tuple[dt.date, dt.date, int, str]:
    """The arguments of :data:`DAY_ROWS` for ``day``."""
    return day, day.replace(day=1), 1 << (day.day - 1), ALL_PACKAGES


@dataclass(frozen=True)
class Cells:
    """A chunk's counts before naming: package names, and per count its package's index, its
    category id (negative: :data:`OVERALL_KEYS`) and the count."""

    packages: list[str]
    owners: Ids
    ids: Ids
    counts: Counts

    @property
    def holding(self) -> int:
        """Packages of the chunk with at least one count."""
        return len(np.unique(self.owners))

    def category_ids(self) -> list[int]:
        """The real (positive) category ids to learn names of."""
        return [int(i) for i in np.unique(self.ids) if i > 0]


def _open_row(r: Sequence[Any]) -> tuple[Ids, Counts]:
    overall = [(k, int(n)) for k, n in zip((-1, -2, -3), (r[1], r[2], r[3]), strict=True) if n > 0]
    lengths = len(r[4]) + len(r[5]) + len(r[6])
    flat = np.fromiter(chain(r[4], r[5], r[6]), dtype=np.int64, count=lengths)
    ids = np.concatenate([np.array([k for k, _ in overall], dtype=np.int64), flat >> COUNT_BITS])
    counts = np.concatenate([np.array([n for _, n in overall], dtype=np.int64), flat & MAX_DOWNLOADS])
    return ids, counts


def _month_row(r: Sequence[Any], day: dt.date) -> tuple[Ids, Counts]:
    days = month_days(day.replace(day=1))
    ids_parts, count_parts = [], []
    for g, block in enumerate(r[7:11]):
        if not block:
            continue
        ids, counts = decode_block(bytes(block), days)
        column = counts[:, day.day - 1]
        nz = np.flatnonzero(column)
        ids_parts.append(-1 - ids[nz] if g == 0 else ids[nz])
        count_parts.append(column[nz])
    if not ids_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(ids_parts), np.concatenate(count_parts)


def extract(rows: Sequence[Sequence[Any]], day: dt.date) -> Cells:
    """The counts of a chunk of :data:`DAY_ROWS` rows (a tombstone, an empty open row, has none)."""
    packages = [str(r[0]) for r in rows]
    id_parts, count_parts, owner_parts = [], [], []
    for i, r in enumerate(rows):
        ids, counts = _open_row(r) if r[4] is not None else _month_row(r, day)
        keep = counts > 0
        id_parts.append(ids[keep])
        count_parts.append(counts[keep])
        owner_parts.append(np.full(int(keep.sum()), i, dtype=np.int64))
    empty = np.zeros(0, dtype=np.int64)
    return Cells(
        packages,
        np.concatenate(owner_parts) if owner_parts else empty,
        np.concatenate(id_parts) if id_parts else empty,
        np.concatenate(count_parts) if count_parts else empty,
    )


def table_of(cells: Cells, names: Mapping[int, Key], day: dt.date) -> pa.Table:
    """The chunk as a sorted table of :data:`SCHEMA`; ``names`` must know every positive id."""
    unique, inverse = np.unique(cells.ids, return_inverse=True)
    keys = [OVERALL_KEYS[i] if i < 0 else names[i] for i in unique.tolist()]
    take = pa.array(inverse.astype(np.int64))
    columns = [
        pa.repeat(pa.scalar(day, pa.date32()), len(cells.counts)),
        pa.array(cells.packages, pa.string()).take(pa.array(cells.owners)),
        pa.array([k[0] for k in keys], pa.string()).take(take),
        pa.array([k[1] for k in keys], pa.string()).take(take),
        pa.array(cells.counts, pa.int64()),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA).sort_by(SORT)
