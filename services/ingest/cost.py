"""What a backfill will cost before it starts: every day's dry run, summed, in bytes and dollars.

Owns the estimate and the budget. A source that bills by bytes scanned (BigQuery) has an
``estimate_bytes(day)`` dry run; each day of the range is estimated (a few at a time, in worker
threads: years of days are thousands of dry runs), the bytes summed, and the price computed the
way BigQuery's on-demand pricing bills a query: rounded up to a whole MiB, at least 10 MiB, per
TiB at ``BIGQUERY_USD_PER_TIB``. Raw and synthetic sources have no dry run and cost nothing.
The estimate is refused when it is above the budget (``BACKFILL_MAX_USD``, or ``--max-usd``) or
when a day is above the per-query cap (``BIGQUERY_MAX_BYTES``) the run itself would refuse.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

TIB = 1 << 40
MIB = 1 << 20
#: BigQuery bills at least 10 MB (MiB) for a query that reads a table.
MIN_BILLED_BYTES = 10 * MIB
#: Dry runs in flight at once while estimating a range.
DRY_RUN_CONCURRENCY = 8


@runtime_checkable
class Estimating(Protocol):
    """A source whose queries are billed by the bytes they scan (the BigQuery dry run)."""

    def estimate_bytes(self, day: dt.date) -> int: ...


class BudgetError(ValueError):
    """The estimate is above the budget, or a day above the per-query cap."""


def billed_bytes(scanned: int) -> int:
    """The bytes BigQuery bills for a query scanning ``scanned`` bytes (0 stays 0)."""
    if scanned <= 0:
        return 0
    return max(MIN_BILLED_BYTES, math.ceil(scanned / MIB) * MIB)


def usd(billed: int, usd_per_tib: float) -> float:
    return billed / TIB * usd_per_tib


@dataclass(frozen=True)
class Estimate:
    """The dry runs of a range: bytes per day, and their price."""

    source: str
    usd_per_tib: float
    #: ``{day: bytes the query would scan}``; empty for a source without a dry run.
    per_day: dict[dt.date, int] = field(default_factory=dict)
    days: int = 0
    billed: bool = False

    @property
    def bytes(self) -> int:
        return sum(self.per_day.values())

    @property
    def billed_bytes(self) -> int:
        return sum(billed_bytes(b) for b in self.per_day.values())

    @property
    def usd(self) -> float:
        return usd(self.billed_bytes, self.usd_per_tib)

    def above(self, max_bytes: int) -> list[dt.date]:
        """Days whose query scans more than ``max_bytes`` (the run would refuse them)."""
        return sorted((d for d, b in self.per_day.items() if b > max_bytes), reverse=True)

    def report(self) -> dict[str, object]:
        return {
            "source": self.source,
            "days": self.days,
            "bytes": self.bytes,
            "billed_bytes": self.billed_bytes,
            "usd": round(self.usd, 6),
            "usd_per_tib": self.usd_per_tib,
        }

    def sentence(self) -> str:
        """One line for a person."""
        if not self.billed:
            return f"{self.days} days from the {self.source} source: 0 bytes to scan, no query cost"
        return (
            f"{self.days} days from BigQuery: {human_bytes(self.bytes)} to scan ({self.bytes} bytes),"
            f" about {self.usd:.2f} USD at {self.usd_per_tib:g} USD/TiB on demand"
        )


def human_bytes(n: int) -> str:
    for unit, size in (("TiB", TIB), ("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


async def estimate(
    source: object,
    source_name: str,
    days: Sequence[dt.date],
    usd_per_tib: float,
    *,
    progress: Callable[[int], object] | None = None,
    concurrency: int = DRY_RUN_CONCURRENCY,
) -> Estimate:
    """Dry-run every day of ``days`` (when the source has a dry run) and sum them."""
    if not isinstance(source, Estimating):
        return Estimate(source_name, usd_per_tib, days=len(days))
    loop = asyncio.get_running_loop()
    per_day: dict[dt.date, int] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="dry-run") as pool:
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(day: dt.date) -> None:
            async with gate:
                per_day[day] = await loop.run_in_executor(pool, source.estimate_bytes, day)
            if progress is not None:
                progress(1)

        tasks = [asyncio.ensure_future(one(day)) for day in days]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
    return Estimate(source_name, usd_per_tib, per_day, days=len(days), billed=True)


def check_budget(found: Estimate, *, max_usd: float, max_bytes: int | None) -> None:
    """``BudgetError`` when the estimate is above ``max_usd`` or a day above ``max_bytes``."""
    if max_bytes is not None and (over := found.above(max_bytes)):
        worst = max(over, key=lambda d: found.per_day[d])
        raise BudgetError(
            f"{len(over)} day(s) would scan more than BIGQUERY_MAX_BYTES={max_bytes} (the largest,"
            f" {worst.isoformat()}, {found.per_day[worst]} bytes); raise BIGQUERY_MAX_BYTES to ingest them"
        )
    if found.usd > max_usd:
        raise BudgetError(
            f"the backfill would cost about {found.usd:.2f} USD ({human_bytes(found.bytes)} scanned),"
            f" above the budget of {max_usd:.2f} USD (BACKFILL_MAX_USD); run it with --max-usd"
            f" {math.ceil(found.usd)} to allow it"
        )
