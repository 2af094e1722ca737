"""Recent totals: summed from package_days, deferred during bursts, flushed exactly once."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest
from nats.js import JetStreamContext

from services.aggregator.complete import Outcome
from shared import rollups
from shared.events import Counts, PackageDay, Subjects
from tests.integration.aggregator.helpers import (
    completed_run,
    make_day,
    manifest_for,
    publish_run,
    running_consumer,
)
from tests.support.wait import wait_until

D0 = dt.date(2024, 5, 1)

#: The definition of recent totals, straight from the daily rows (what the aggregator must equal).
REFERENCE = """
SELECT package, p.period,
       CASE p.period WHEN 'day' THEN d WHEN 'week' THEN w WHEN 'month' THEN m ELSE pm END AS downloads
FROM (
    SELECT package,
           coalesce(sum(downloads) FILTER (WHERE category = 'without_mirrors' AND day = $1::date), 0) AS d,
           coalesce(sum(downloads) FILTER (WHERE category = 'without_mirrors' AND day >= $1::date - 6), 0) AS w,
           coalesce(sum(downloads) FILTER (WHERE category = 'without_mirrors'), 0) AS m,
           coalesce(sum(downloads) FILTER (WHERE category = 'people'), 0) AS pm
    FROM daily_downloads
    WHERE dimension = 'overall' AND day BETWEEN $1::date - 29 AND $1::date
    GROUP BY package
) t CROSS JOIN (VALUES ('day'), ('week'), ('month'), ('people_month')) AS p(period)
"""


@pytest.fixture
def processor(new_processor):  # type: ignore[no-untyped-def]
    return new_processor(batch_size=100)


def mirror_only(day: dt.date, run_id: str) -> PackageDay:
    """A package-day with only with_mirrors downloads: recent rows of 0, not absent ones."""
    counts = Counts(overall={"with_mirrors": 9})
    return PackageDay(day=day, package="mirror-only", counts=counts, run_id=run_id, source="test")


async def recent_rows(db: asyncpg.Pool) -> set[tuple[str, str, int]]:
    rows = await db.fetch("SELECT package, period, downloads FROM recent_downloads")
    return {(r["package"], r["period"], r["downloads"]) for r in rows}


async def reference(db: asyncpg.Pool, anchor: dt.date) -> set[tuple[str, str, int]]:
    return {(r["package"], r["period"], r["downloads"]) for r in await db.fetch(REFERENCE, anchor)}


async def fill(processor, days: list[dt.date], *, defer: bool) -> None:  # type: ignore[no-untyped-def]
    """Write and complete ``days`` in order (varying packages, so some leave the window)."""
    seq = 1
    for i, day in enumerate(days):
        events = make_day(day, 30 + i % 7, f"run-{day}", seed=i)[i % 5 :]
        if i % 3 == 0:
            events.append(mirror_only(day, f"run-{day}"))
        await processor.write([(e, seq + j) for j, e in enumerate(events)])
        seq += len(events)
        done = await processor.finish_day(manifest_for(day, f"run-{day}", events), seq, defer_recent=defer)
        assert done.outcome is Outcome.COMPLETED
        assert done.recent_deferred is defer
        seq += 1


async def test_recent_equals_the_daily_rows_definition_over_a_moving_window(
    processor, db: asyncpg.Pool
) -> None:
    days = [D0 + dt.timedelta(days=i) for i in range(40)]
    await fill(processor, days, defer=False)
    got = await recent_rows(db)
    assert got == await reference(db, days[-1])
    assert ("mirror-only", "month", 0) in got
    month = {p: n for p, period, n in got if period == "month"}
    assert month["__all__"] == sum(n for p, n in month.items() if p != "__all__")


async def test_deferred_rebuilds_are_owed_in_the_database_and_flushed_once(
    processor, new_processor, db: asyncpg.Pool
) -> None:
    days = [D0 + dt.timedelta(days=i) for i in range(8)]
    await fill(processor, days[:1], defer=False)
    before = await recent_rows(db)
    await fill(processor, days[1:], defer=True)
    # Deferred: the totals still hold the first day, and the database says a rebuild is owed.
    assert await recent_rows(db) == before
    assert await db.fetchval("SELECT stale FROM recent_state") is True
    assert await rollups.last_complete_day(db) == days[-1]
    # A fresh aggregator (as after a crash) owes nothing in memory but finds the mark when idle.
    fresh = new_processor()
    async with running_consumer(fresh):
        await wait_until(lambda: _fresh(db), what="the owed rebuild to be flushed")
    assert await recent_rows(db) == await reference(db, days[-1])
    assert await db.fetchval("SELECT anchor FROM recent_state") == days[-1]
    assert await fresh.flush_recent() is None  # nothing owed any more: no second rebuild


async def _fresh(db: asyncpg.Pool) -> bool:
    return await db.fetchval("SELECT NOT stale FROM recent_state") is True


async def test_a_backlog_of_manifests_defers_and_ends_rebuilt_on_the_last_day(
    processor, db: asyncpg.Pool, js: JetStreamContext, subjects: Subjects
) -> None:
    days = [D0 + dt.timedelta(days=i) for i in range(6)]
    for day in days:  # the whole backlog is in the stream before the consumer starts
        await publish_run(js, subjects, make_day(day, 40, f"run-{day}", seed=day.day))
    async with running_consumer(processor):
        await wait_until(lambda: completed_run(db, days[-1]), what="last day complete")
        await wait_until(lambda: _fresh(db), what="recent rebuilt")
    assert processor.deferred_since is None
    assert processor.metrics.recent_deferred._value.get() >= 1  # the backlog deferred, then one flush
    assert await recent_rows(db) == await reference(db, days[-1])
    assert await db.fetchval("SELECT anchor FROM recent_state") == days[-1]


async def test_no_deferral_when_recent_max_delay_is_zero(new_processor, db: asyncpg.Pool) -> None:
    processor = new_processor(recent_max_delay=0)
    events = make_day(D0, 10, "run")
    await processor.write([(e, i + 1) for i, e in enumerate(events)])
    done = await processor.finish_day(manifest_for(D0, "run", events), 100, defer_recent=True)
    assert done.outcome is Outcome.COMPLETED and not done.recent_deferred
    assert await recent_rows(db) == await reference(db, D0)
