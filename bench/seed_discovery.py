"""The discovery lists of a seeded history-store database (migration 0013 on), by the aggregator's code.

Owns leaving a bench database as the aggregator's day completions leave the store for the
discovery lists (services/aggregator/discovery.py, tables of migration 0013): ``trend_days`` and
``trend_days_done`` for the last :data:`~shared.discovery.TREND_DAYS` days, then every list of
``discovery_lists`` rebuilt on the last day by :func:`services.aggregator.discovery.rebuild`.

The aggregator records a day's trend rows when the day completes, while its package-days are
still open; compaction folds them into months later and leaves the rows. The seed writes closed
months compacted at once, so:

* a day the seed writes open (``downloads_days``) is recorded by
  :func:`services.aggregator.discovery.record_day` itself, in the day's transaction, from the
  rows just written (its SQL, its CI category);
* a day of a compacted month (none of its package-days is ever open here) gets the rows
  ``record_day`` would have written when it completed, from the same counts the month's blocks
  hold: per package with downloads without mirrors, those downloads and its ``ci`` ``true``
  downloads (0 without the details). tests/integration/test_bench_seed.py holds both ways equal.

Memory: one day's arrays at a time (the rows go out by one COPY per day).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import numpy as np

from bench import shape_details
from bench.seed import Batch
from services.aggregator import discovery
from services.aggregator.recent import RECENT_LOCK_CLASS
from shared.discovery import TREND_DAYS

HAS_DISCOVERY = "SELECT to_regclass('discovery_lists') IS NOT NULL"
MARK_DONE = "INSERT INTO trend_days_done (day) VALUES ($1) ON CONFLICT DO NOTHING"
LISTS = "SELECT list, count(*) AS lists, sum(jsonb_array_length(entries)) AS entries FROM discovery_lists GROUP BY list"
_CI_TRUE = shape_details.DETAILS.index(("ci", "true"))


async def has_discovery(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(HAS_DISCOVERY))


@dataclass
class TrendDays:
    """Records each of the last TREND_DAYS seeded days as its completion would (module doc)."""

    dates: Sequence[dt.date]
    by_record_day: int = 0  # days recorded by the aggregator's record_day
    from_counts: int = 0  # days of compacted months, recorded from the generator's counts

    @property
    def first(self) -> dt.date:
        return self.dates[-1] - dt.timedelta(days=TREND_DAYS - 1)

    async def day(self, conn: asyncpg.Connection, batch: Batch, is_open: bool) -> None:
        """Record ``batch``'s day (in its transaction, after the writer) if it is one of the last
        TREND_DAYS days; ``is_open``: the writer wrote its package-days to ``downloads_days``."""
        if batch.day < self.first:
            return
        if is_open:
            await discovery.record_day(conn, batch.day)
            self.by_record_day += 1
            return
        counts = batch.counts
        rows = np.flatnonzero(counts.without_mirrors > 0)
        details = counts.details
        ci = details.counts[rows, _CI_TRUE] if details is not None else np.zeros(len(rows), dtype=np.int64)
        records = zip(
            [batch.day] * len(rows),
            batch.names[rows].tolist(),
            counts.without_mirrors[rows].tolist(),
            ci.tolist(),
            strict=True,
        )
        await conn.execute(discovery.CLEAR_DAY, batch.day)
        await conn.copy_records_to_table(
            "trend_days", records=records, columns=("day", "package", "downloads", "ci")
        )
        await conn.execute(MARK_DONE, batch.day)
        self.from_counts += 1


@dataclass(frozen=True)
class Lists:
    """What the rebuild left: the anchor and, per list kind, how many lists and entries."""

    anchor: dt.date | None
    lists: dict[str, tuple[int, int]]
    seconds: float

    def line(self, trend: TrendDays) -> str:
        kinds = ", ".join(f"{k} {n} list(s) / {e} entries" for k, (n, e) in sorted(self.lists.items()))
        return (
            f"discovery lists on {self.anchor}: {kinds or 'none'} in {self.seconds:.1f} s (trend days:"
            f" {trend.by_record_day} recorded by record_day, {trend.from_counts} of compacted months from their counts)"
        )


async def rebuild(conn: asyncpg.Connection) -> Lists:
    """Every list rebuilt on the last complete day by the aggregator's own rebuild, as after a
    completion (same lock class, one transaction)."""
    started = time.monotonic()
    async with conn.transaction():
        anchor = await discovery.rebuild(conn, RECENT_LOCK_CLASS)
    found = {r["list"]: (int(r["lists"]), int(r["entries"])) for r in await conn.fetch(LISTS)}
    return Lists(anchor, found, time.monotonic() - started)
