"""Compaction keeps every number, and a compacted day is still replaced as a whole.

Package-days go through the aggregator's processor (write, then the manifest completes the day),
which compacts the months that are due after each completion (shared/db/compaction.py). What
readers see (shared.series, open days and compacted months merged) is compared with the events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import asyncpg

from services.aggregator.complete import Outcome
from services.aggregator.consumer import Processor
from shared import series
from shared.db.compaction import compact_due
from shared.db.layout import Dictionary
from shared.events import Counts, PackageDay
from tests.integration.aggregator.helpers import expected_all, make_day, manifest_for

FIRST = dt.date(2024, 1, 1)
DAYS = 70  # Jan 1 .. Mar 10, 2024: January is due for compaction (its last day is 30+ days back)
PACKAGES = 12
Fact = tuple[dt.date, str, str, str, int]


def with_versions(events: list[PackageDay]) -> list[PackageDay]:
    """The events with versions and countries too (every array group of a compacted row)."""
    out = []
    for i, e in enumerate(events):
        without = e.counts.overall["without_mirrors"]
        counts = e.counts.model_copy(
            update={
                "version": {"1.0": without - without // 3, "2.0": without // 3}
                if i % 4
                else {"1.0": without},
                "country": {"US": without},
            }
        )
        out.append(e.model_copy(update={"counts": counts}))
    return out


def facts(events: Iterable[PackageDay]) -> set[Fact]:
    return {(e.day, e.package, d, c, n) for e in events for d, c, n in e.counts.rows()}


def all_facts(events: list[PackageDay]) -> set[Fact]:
    by_day: dict[dt.date, list[PackageDay]] = {}
    for e in events:
        by_day.setdefault(e.day, []).append(e)
    return {(day, p, d, c, n) for day, found in by_day.items() for p, d, c, n in expected_all(found)}


async def read(db: asyncpg.Pool, packages: Iterable[str]) -> set[Fact]:
    """Every (day, package, dimension, category, downloads) readers see, every day kept."""
    names = Dictionary()
    out: set[Fact] = set()
    async with db.acquire() as conn:
        for package in packages:
            found = await series.series_window(conn, names, package, None, None)
            out |= {
                (p.day, package, d, p.category, p.downloads) for d, points in found.items() for p in points
            }
    return out


async def run_days(processor: Processor, days: Iterable[dt.date], run: str = "run") -> list[PackageDay]:
    every: list[PackageDay] = []
    for seq, day in enumerate(days, start=1):
        events = with_versions(make_day(day, PACKAGES, f"{run}-{day}"))
        await processor.write([(e, 1000 * seq + i) for i, e in enumerate(events)])
        done = await processor.finish_day(manifest_for(day, f"{run}-{day}", events), 1000 * seq + 999)
        assert done.outcome is Outcome.COMPLETED
        every += events
    return every


def package_names() -> list[str]:
    return [f"pkg-{i:05d}" for i in range(PACKAGES)]


async def test_compacted_months_read_back_exactly(new_processor, db: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    processor = new_processor()
    events = await run_days(processor, (FIRST + dt.timedelta(days=i) for i in range(DAYS)))
    january = await db.fetchval("SELECT count(*) FROM downloads_months WHERE month = $1", FIRST)
    assert january == PACKAGES + 1  # every package and __all__
    assert await db.fetchval("SELECT count(*) FROM downloads_days WHERE day < $1", dt.date(2024, 2, 1)) == 0
    assert await db.fetchval("SELECT count(*) FROM downloads_all WHERE day < $1", dt.date(2024, 2, 1)) == 0
    assert await read(db, package_names()) == facts(events)
    assert await read(db, ["__all__"]) == all_facts(events)


async def test_a_reingested_compacted_day_is_replaced_whole(new_processor, db: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    processor = new_processor()
    events = await run_days(processor, (FIRST + dt.timedelta(days=i) for i in range(DAYS)))
    day = dt.date(2024, 1, 15)
    assert await db.fetchval("SELECT count(*) FROM downloads_days WHERE day = $1", day) == 0  # compacted
    old = [e for e in events if e.day == day]
    # the corrected run: pkg-00000 lost its version 2.0 (all on 1.0 now), pkg-00001 is gone
    fixed = []
    for e in old:
        if e.package == "pkg-00001":
            continue
        if e.package == "pkg-00000":
            without = e.counts.overall["without_mirrors"]
            e = e.model_copy(update={"counts": e.counts.model_copy(update={"version": {"1.0": without}})})
        fixed.append(e.model_copy(update={"run_id": "fix"}))
    # a message of a run older than the one that completed the day, replayed late, is stale
    stale = await processor.write([(old[3].model_copy(update={"run_id": "older"}), 1)])
    assert stale.applied == 0 and stale.stale == 1
    # the completing run's own message replayed is applied: the same numbers, open again
    replayed = await processor.write([(old[3], 1)])
    assert replayed.applied == 1
    assert await read(db, package_names()) == facts(events)
    await processor.write([(e, 900_000 + i) for i, e in enumerate(fixed)])
    done = await processor.finish_day(manifest_for(day, "fix", fixed), 900_999)
    assert done.outcome is Outcome.COMPLETED and done.removed == 1  # pkg-00001, by a tombstone
    expected = (facts(events) - facts(old)) | facts(fixed)
    names = package_names()
    assert await read(db, names) == expected
    after = [e for e in events if e.day != day] + fixed
    assert await read(db, ["__all__"]) == all_facts(after)
    assert ("pkg-00000", "version", "2.0") not in {
        (p, d, c) for x, p, d, c, _ in await read(db, names) if x == day
    }
    # folded in by the next compaction: the same numbers, nothing left open in January
    await compact_due(db, FIRST + dt.timedelta(days=DAYS - 1))
    assert await db.fetchval("SELECT count(*) FROM downloads_days WHERE day < $1", dt.date(2024, 2, 1)) == 0
    assert await db.fetchval("SELECT count(*) FROM downloads_all WHERE day < $1", dt.date(2024, 2, 1)) == 0
    assert await read(db, names) == expected
    assert await read(db, ["__all__"]) == all_facts(after)
    bit = await db.fetchval(
        "SELECT days & (1 << 14) FROM downloads_months WHERE package = 'pkg-00001' AND month = $1", FIRST
    )
    assert bit == 0
    # the same manifest delivered again (its ack was lost) completes again, though its
    # package-days are compacted now
    again = await processor.finish_day(manifest_for(day, "fix", fixed), 900_999)
    assert again.outcome is Outcome.COMPLETED
    assert await read(db, names) == expected


async def test_a_run_in_flight_stays_open_through_compaction(new_processor, db: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    processor = new_processor()
    events = await run_days(processor, (FIRST + dt.timedelta(days=i) for i in range(DAYS)))
    day = dt.date(2024, 1, 20)
    newer = [
        e.model_copy(
            update={"run_id": "newer", "counts": Counts(overall={"with_mirrors": 3, "without_mirrors": 2})}
        )
        for e in events
        if e.day == day
    ]
    await processor.write([(e, 800_000 + i) for i, e in enumerate(newer[:5])])  # part of the run so far
    await compact_due(db, FIRST + dt.timedelta(days=DAYS - 1))
    assert await db.fetchval("SELECT count(*) FROM downloads_days WHERE day = $1", day) == 5
    await processor.write([(e, 800_000 + i) for i, e in enumerate(newer)])
    done = await processor.finish_day(manifest_for(day, "newer", newer), 800_999)
    assert done.outcome is Outcome.COMPLETED and done.committed == PACKAGES
    expected = {f for f in facts(events) if f[0] != day} | facts(newer)
    assert await read(db, package_names()) == expected
