"""The compacted month: one package's closed month as one row of ``downloads_months`` (pure, no I/O).

Owns how a month of package-days is encoded once its days are closed (migration 0009). The open
days stay as package-day rows (``downloads_days``, shared/db/layout.py); compaction rewrites a
month of them into one row per package and month holding, for each array group of the packed
layout (``overall``, ``cells``, ``details``, ``versions``), one *block*:

* a matrix of daily counts, one row per category id present in the month and one column per
  calendar day of the month (zero where the category had no download that day);
* encoded as ``format (1 byte) | width (1 byte) | categories (uint32)`` then, deflated (zlib),
  the sorted category ids (uint32) followed by the counts as unsigned integers of ``width`` bytes
  (1, 2, 4 or 8: the narrowest that holds the month's largest count), *byte-shuffled*: every
  count's lowest byte first, then every second byte, and so on. Download counts are small
  numbers with long runs of zeros, so after the shuffle the high bytes are long zero runs and
  deflate stores about a byte or two per non-zero count (docs/architecture.md has the figures);
* the empty block (``b""``) for a group without any count that month.

``overall`` uses the ids 0 (with_mirrors), 1 (without_mirrors) and 2 (people, from migration 0011). A row also carries the month's
``days`` bitmap (bit ``d - 1`` set when day ``d`` holds a package-day) and its overall sums.

Decoding is numpy on whole blocks (no Python work per count), and :class:`Frame` lays blocks and
package-day rows side by side on one day axis, so a reader merges a package's compacted months
with its open days (an open package-day replaces its day whole: a late re-ingest of a compacted
day, or a *tombstone*, an empty package-day that removes it) and writes its series from that;
compaction (:func:`fold`) does the same over one month and encodes the result.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt

from shared.db.layout import COUNT_BITS, MAX_DOWNLOADS, LayoutError

Ids: TypeAlias = npt.NDArray[np.int64]
Counts: TypeAlias = npt.NDArray[np.int64]

FORMAT: Final = 1
HEADER: Final = 6
#: Block groups of a compacted row, in column order: overall, then the arrays of the packed layout.
GROUPS: Final = ("overall", "cells", "details", "versions")
OVERALL_IDS: Final = np.array([0, 1], dtype=np.int64)
#: The id of ``people`` in an overall block (months compacted before migration 0011 have none).
PEOPLE_ID: Final = 2
_WIDTHS: Final = ((0xFF, 1, "<u1"), (0xFFFF, 2, "<u2"), (0xFFFF_FFFF, 4, "<u4"), (MAX_DOWNLOADS, 8, "<u8"))
_DTYPE: Final = {w: d for _, w, d in _WIDTHS}
_LEVEL: Final = 6
_EMPTY_IDS: Final = np.zeros(0, dtype=np.int64)


@functools.lru_cache(maxsize=4096)
def month_days(month: dt.date) -> int:
    """Calendar days of the month starting on ``month`` (remembered: every read of a compacted
    month asks, twice)."""
    return calendar.monthrange(month.year, month.month)[1]


def next_month(month: dt.date) -> dt.date:
    return (
        month.replace(year=month.year + 1, month=1)
        if month.month == 12
        else month.replace(month=month.month + 1)
    )


def encode_block(ids: Ids, counts: Counts) -> bytes:
    """One block of ``counts`` (categories x days, rows in the order of the sorted ``ids``); rows
    without any count are left out; ``b""`` when nothing is left."""
    if counts.size == 0:
        return b""
    keep = counts.any(axis=1)
    if not keep.all():
        ids, counts = ids[keep], counts[keep]
    if len(ids) == 0:
        return b""
    if counts.min() < 0:
        raise LayoutError("a negative count")
    top = int(counts.max())
    width, dtype = next(((w, d) for limit, w, d in _WIDTHS if top <= limit), (0, ""))
    if not width:
        raise LayoutError(f"count {top} outside 0..{MAX_DOWNLOADS}")
    values = np.ascontiguousarray(counts, dtype=dtype).view(np.uint8).reshape(-1, width)
    payload = ids.astype("<u4").tobytes() + np.ascontiguousarray(values.T).tobytes()
    header = bytes((FORMAT, width)) + len(ids).to_bytes(4, "little")
    return header + zlib.compress(payload, _LEVEL)


def decode_block(block: bytes, days: int) -> tuple[Ids, Counts]:
    """``(ids, counts)`` of a block of a month of ``days`` days (counts: categories x days)."""
    if not block:
        return _EMPTY_IDS, np.zeros((0, days), dtype=np.int64)
    if block[0] != FORMAT:
        raise LayoutError(f"unknown block format {block[0]}")
    width = block[1]
    n = int.from_bytes(block[2:HEADER], "little")
    payload = zlib.decompress(block[HEADER:])
    ids = np.frombuffer(payload, dtype="<u4", count=n).astype(np.int64)
    shuffled = np.frombuffer(payload, dtype=np.uint8, offset=4 * n).reshape(width, n * days)
    values = np.ascontiguousarray(shuffled.T).view(_DTYPE[width]).reshape(n, days)
    return ids, values.astype(np.int64)


def split_cells(cells: Sequence[int]) -> tuple[Ids, Counts]:
    """Ids and counts of a packed array (``category_id << 40 | downloads``)."""
    packed = np.asarray(cells, dtype=np.int64)
    return packed >> COUNT_BITS, packed & MAX_DOWNLOADS


#: An open package-day as compaction reads it: ``(day, with_mirrors, without_mirrors, (cells,
#: details, versions))``, and since migration 0011 its ``people`` count as a fifth item.
OpenDay: TypeAlias = "tuple[dt.date, int, int, Sequence[Sequence[int]]] | tuple[dt.date, int, int, Sequence[Sequence[int]], int]"


@dataclass(frozen=True)
class MonthRow:
    """One compacted package-month as stored."""

    month: dt.date
    package: str
    days: int  # bitmap of the days holding a package-day
    with_mirrors: int
    without_mirrors: int
    blocks: tuple[bytes, bytes, bytes, bytes]  # GROUPS order


def fold(
    month: dt.date,
    package: str,
    stored: tuple[int, Sequence[bytes]] | None,
    days: Iterable[OpenDay],
) -> MonthRow | None:
    """A package's compacted month: its ``stored`` row (``days`` bitmap and the four blocks), if
    any, with open package-days ``(day, with_mirrors, without_mirrors, (cells, details,
    versions)[, people])`` folded in, each replacing its day whole (an empty one removes the
    day); None when no day is left."""
    end = next_month(month) - dt.timedelta(days=1)
    frames = [Frame(month, end) for _ in GROUPS]
    bitmap = 0
    if stored is not None:
        bitmap = stored[0]
        for frame, block in zip(frames, stored[1], strict=True):
            if block:
                frame.add_block(month, block)
    for item in days:
        day, with_mirrors, without_mirrors, arrays = item[0], item[1], item[2], item[3]
        people = item[4] if len(item) == 5 else 0
        overall = [with_mirrors] if with_mirrors > 0 else []
        if without_mirrors > 0:
            overall.append((1 << COUNT_BITS) | without_mirrors)
        if people > 0:
            overall.append((PEOPLE_ID << COUNT_BITS) | people)
        frames[0].add_cells(day, overall)
        for frame, cells in zip(frames[1:], arrays, strict=True):
            frame.add_cells(day, cells)
        bit = 1 << (day.day - 1)
        bitmap = bitmap | bit if overall or any(len(a) for a in arrays) else bitmap & ~bit
    if not bitmap:
        return None
    blocks = []
    sums = (0, 0)
    for g, frame in enumerate(frames):
        ids, counts = frame.matrix()
        if g == 0:
            totals = counts.sum(axis=1)
            found = dict(zip(ids.tolist(), totals.tolist(), strict=True))
            sums = (found.get(0, 0), found.get(1, 0))
        blocks.append(encode_block(ids, counts))
    return MonthRow(month, package, bitmap, sums[0], sums[1], (blocks[0], blocks[1], blocks[2], blocks[3]))


class Frame:
    """One group of one package over a span of days: category ids x days, merged from compacted
    month blocks and open package-days (which replace their day whole)."""

    def __init__(self, start: dt.date, end: dt.date) -> None:
        self.start = start
        self.span = max((end - start).days + 1, 0)
        self.parts: list[tuple[int, Ids, Counts]] = []  # (offset of the month's first day, ids, counts)
        self.offsets: list[int] = []  # open package-days: their day's offset ...
        self.cells: list[Sequence[int]] = []  # ... and their packed cells (empty: a tombstone)

    def add_block(self, month: dt.date, block: bytes) -> None:
        ids, counts = decode_block(block, month_days(month))
        if len(ids):
            self.parts.append(((month - self.start).days, ids, counts))

    def add_cells(self, day: dt.date, cells: Sequence[int]) -> None:
        """An open package-day, replacing whatever its compacted month holds for that day."""
        offset = (day - self.start).days
        if 0 <= offset < self.span:
            self.offsets.append(offset)
            self.cells.append(cells)

    def _open(self) -> tuple[Ids, Counts, Ids]:
        lengths = [len(c) for c in self.cells]
        flat = np.fromiter(chain.from_iterable(self.cells), dtype=np.int64, count=sum(lengths))
        columns = np.repeat(np.asarray(self.offsets, dtype=np.int64), lengths)
        return flat >> COUNT_BITS, flat & MAX_DOWNLOADS, columns

    def ids(self) -> set[int]:
        """Every category id in the frame (to learn names of)."""
        found = {int(i) for _, ids, _ in self.parts for i in ids.tolist()}
        found.update(cell >> COUNT_BITS for cells in self.cells for cell in cells)
        return found

    def matrix(self) -> tuple[Ids, Counts]:
        """``(ids, counts)``: every category with a count in the span, categories x days."""
        open_ids, open_counts, columns = self._open()
        id_lists = [ids for _, ids, _ in self.parts] + [open_ids]
        every = np.unique(np.concatenate(id_lists))
        out = np.zeros((len(every), self.span), dtype=np.int64)
        for offset, ids, counts in self.parts:
            lo, hi = max(offset, 0), min(offset + counts.shape[1], self.span)
            if lo < hi:
                out[np.searchsorted(every, ids), lo:hi] = counts[:, lo - offset : hi - offset]
        if self.offsets:
            if self.parts:
                out[:, self.offsets] = 0
            out[np.searchsorted(every, open_ids), columns] = open_counts
        return every, out

    def days(self) -> list[dt.date]:
        """The span's dates (shared by every frame of the same span: random packages of one window)."""
        return dates_of(self.start, self.span)


@functools.lru_cache(maxsize=64)
def dates_of(start: dt.date, span: int) -> list[dt.date]:
    """``span`` consecutive dates from ``start`` (remembered: the same windows come again and again)."""
    first = start.toordinal()
    return [dt.date.fromordinal(first + i) for i in range(span)]


def series_of(
    ids: Ids, counts: Counts, dates: Sequence[dt.date]
) -> Iterable[tuple[int, list[tuple[dt.date, int]]]]:
    """Every category's non-zero ``(day, downloads)`` in day order, in id order."""
    for i, cid in enumerate(ids.tolist()):
        row = counts[i]
        nz = np.flatnonzero(row)
        if len(nz):
            yield cid, list(zip([dates[k] for k in nz.tolist()], row[nz].tolist(), strict=True))
