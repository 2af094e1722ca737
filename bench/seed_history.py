"""The bench writer of the history store (migration 0009 on): closed months written compacted,
the open days as package-day rows, as the aggregator leaves them once compaction has run.

Owns turning bench.seed's day batches into ``downloads_months`` rows (one per package and closed
month, blocks encoded by the store's own codec, shared/db/history.py) and, for the days still
open (the last month or two: shared/db/compaction.py COMPACT_AFTER_DAYS), ``downloads_days`` and
``downloads_all`` rows through the packed writer. A month's days are gathered, then every package
is encoded at once per group: numpy over the month, one block per group and package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt

from bench import shape_details
from bench.seed import Batch, PackedWriter
from shared.db.compaction import COMPACT_AFTER_DAYS
from shared.db.history import OVERALL_IDS, encode_block, month_days, next_month
from shared.db.partitions import ensure_partitions
from shared.packages import ALL_PACKAGES

MONTH_COLUMNS = (
    "month",
    "with_mirrors",
    "without_mirrors",
    "days",
    "package",
    "overall",
    "cells",
    "details",
    "versions",
)
Ints = npt.NDArray[np.int64]


@dataclass
class MonthDays:
    """The day batches of one month (laid out as days x packages [x columns] when written)."""

    month: dt.date
    batches: list[Batch] = field(default_factory=list)


class HistoryWriter(PackedWriter):
    """Closed months as compacted rows, open days as package-day rows (see module doc)."""

    table = "downloads_days"

    def __init__(self, *, compacted: bool = True) -> None:
        super().__init__()
        #: False writes every day open, as the aggregator leaves them before compaction runs.
        self.compacted = compacted

    async def ensure(self, conn: asyncpg.Connection, dates: Sequence[dt.date]) -> None:
        await ensure_partitions(conn, dates[0], dates[-1])

    async def prepare(
        self, conn: asyncpg.Connection, dates: Sequence[dt.date], details: shape_details.DetailParams | None
    ) -> None:
        await super().prepare(conn, dates, details)
        # the first month not yet due for compaction (its last day is under COMPACT_AFTER_DAYS back)
        limit = dates[-1] - dt.timedelta(days=COMPACT_AFTER_DAYS)
        month = limit.replace(day=1)
        self.open_from = next_month(month) if next_month(month) - dt.timedelta(days=1) <= limit else month
        if not self.compacted:
            self.open_from = dates[0]
        self.has_details = details is not None
        self.pending: MonthDays | None = None

    def is_open(self, day: dt.date) -> bool:
        """Whether ``day``'s package-days are written open (``downloads_days``), not compacted."""
        return day >= self.open_from

    async def day(self, conn: asyncpg.Connection, batch: Batch) -> None:
        if self.is_open(batch.day):
            await self.flush(conn)
            await super().day(conn, batch)
            return
        month = batch.day.replace(day=1)
        if self.pending is not None and self.pending.month != month:
            await self.flush(conn)
        if self.pending is None:
            self.pending = MonthDays(month)
        self.pending.batches.append(batch)

    async def finish(self, conn: asyncpg.Connection, dates: Sequence[dt.date]) -> None:
        await self.flush(conn)

    async def flush(self, conn: asyncpg.Connection) -> None:
        """Write the gathered month as one compacted row per package (and ``__all__``)."""
        found, self.pending = self.pending, None
        if found is None:
            return
        await conn.copy_records_to_table(
            "downloads_months", records=self.month_rows(found), columns=MONTH_COLUMNS
        )

    def month_rows(self, found: MonthDays) -> list[tuple[Any, ...]]:
        month, nd = found.month, month_days(found.month)
        first = found.batches[0].day.day - 1  # a window may start mid-month

        def dense(get: Any, order: npt.NDArray[np.intp] | None = None) -> Ints:
            """The month's days of one array (packages [x k], its columns in ``order``) as a whole
            month of days x packages [x k] (zeros before the window's start), in one allocation."""
            out: Ints | None = None
            for i, batch in enumerate(found.batches):
                values = get(batch.counts)
                if order is not None:
                    values = values[:, order]
                if out is None:
                    out = np.zeros((nd, *values.shape), dtype=np.int64)
                out[first + i] = values
            assert out is not None  # a pending month has a day
            return out

        with_m = dense(lambda c: c.with_mirrors)
        without = dense(lambda c: c.without_mirrors)
        base = dense(lambda c: c.breakdown, self.base.order)
        base_ids = self.base.shifted >> 40
        if self.has_details:
            details = dense(lambda c: c.details.counts, self.details.order)
            detail_ids = self.details.shifted >> 40
            versions = dense(lambda c: c.details.versions)
            releases = dense(lambda c: c.details.releases)
        names = found.batches[0].names
        exists = with_m > 0
        weights = (1 << np.arange(nd, dtype=np.int64))[:, None]
        bitmaps = (exists * weights).sum(axis=0)
        rows: list[tuple[Any, ...]] = []
        for p in np.flatnonzero(exists.any(axis=0)).tolist():
            overall = encode_block(OVERALL_IDS, np.stack([with_m[:, p], without[:, p]]))
            cells = encode_block(base_ids, base[:, p, :].T)
            detail_block = version_block = b""
            if self.has_details:
                detail_block = encode_block(detail_ids, details[:, p, :].T)
                version_block = self.version_block(p, versions[:, p, :], releases[:, p, :], nd)
            rows.append(
                (month, int(with_m[:, p].sum()), int(without[:, p].sum()), int(bitmaps[p]), names[p],
                 overall, cells, detail_block, version_block)
            )  # fmt: skip
        every = exists.any(axis=1)
        total = (every * weights[:, 0]).sum()
        all_details = encode_block(detail_ids, details.sum(axis=1).T) if self.has_details else b""
        rows.append(
            (month, int(with_m.sum()), int(without.sum()), int(total), ALL_PACKAGES,
             encode_block(OVERALL_IDS, np.stack([with_m.sum(axis=1), without.sum(axis=1)])),
             encode_block(base_ids, base.sum(axis=1).T), all_details, b"")
        )  # fmt: skip
        return rows

    def version_block(self, p: int, counts: Ints, releases: Ints, nd: int) -> bytes:
        """One package's versions over the month: each release's id from its scheme."""
        keep = counts > 0
        if not keep.any():
            return b""
        ids = self.versions.ids[self.versions.scheme[p]][np.maximum(releases, 0)]
        unique = np.unique(ids[keep])
        matrix = np.zeros((len(unique), nd), dtype=np.int64)
        day_index = np.broadcast_to(np.arange(nd)[:, None], counts.shape)
        np.add.at(matrix, (np.searchsorted(unique, ids[keep]), day_index[keep]), counts[keep])
        return encode_block(unique, matrix)
