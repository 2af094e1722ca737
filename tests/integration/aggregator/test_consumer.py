"""The aggregator against real PostgreSQL, Redis and NATS JetStream (in-process consumer)."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis

from services.aggregator.complete import Outcome
from shared import rollups
from shared.cache import CacheKeys, get_cache_version
from shared.events import DeadLetter, RollupsUpdated, Subjects
from tests.integration.aggregator.helpers import (
    completed_run,
    expected_all,
    expected_rows,
    make_day,
    manifest_for,
    publish,
    publish_manifest,
    publish_run,
    running_consumer,
    stored_rows,
)
from tests.support.wait import wait_until

DAY = dt.date(2024, 3, 10)


@pytest.fixture
def processor(new_processor):  # type: ignore[no-untyped-def]
    return new_processor(batch_size=200)


async def test_a_day_lands_exactly_with_its_rollups(
    processor,
    db: asyncpg.Pool,
    redis: Redis,
    js: JetStreamContext,
    subjects: Subjects,
    nats_client: NatsClient,
) -> None:
    rollup_sub = await nats_client.subscribe(subjects.rollups(DAY))
    events = make_day(DAY, 450, "run-1")
    async with running_consumer(processor):
        await publish_run(js, subjects, events)
        await wait_until(lambda: completed_run(db, DAY), what="day complete")
    assert await stored_rows(db, DAY) == expected_rows(events)
    assert await stored_rows(db, DAY, include_all=True) - await stored_rows(db, DAY) == expected_all(events)
    assert await rollups.last_complete_day(db) == DAY
    assert await rollups.count_packages(db) == 450
    assert not await rollups.package_exists(db, "__all__-x")
    assert await db.fetchval("SELECT count(*) FROM package_index WHERE package = '__all__'") == 0
    first = events[0]
    want = first.counts.overall["without_mirrors"]
    assert await rollups.recent(db, first.package) == {"day": want, "week": want, "month": want}
    total = sum(e.counts.overall["without_mirrors"] for e in events)
    assert (await rollups.recent(db, "__all__"))["month"] == total
    assert await get_cache_version(redis, CacheKeys(f"{subjects.namespace}:")) >= 1
    msg = await rollup_sub.next_msg(timeout=5)
    assert RollupsUpdated.model_validate_json(msg.data).packages == 450
    row = await db.fetchrow("SELECT packages, rows FROM ingest_days WHERE day = $1", DAY)
    assert row["packages"] == 450 and row["rows"] == len(expected_rows(events))
    metrics = processor.metrics
    assert metrics.rows_written._value.get() == len(expected_rows(events))
    assert metrics.last_complete_day._value.get() > 0


async def test_manifest_before_its_package_days_waits_and_then_completes(
    processor, db: asyncpg.Pool, js: JetStreamContext, subjects: Subjects
) -> None:
    events = make_day(DAY, 120, "early")
    async with running_consumer(processor):
        await publish_manifest(js, subjects, manifest_for(DAY, "early", events))
        await wait_until(
            lambda: _metric(processor, "manifest_retry"), what="the manifest to be retried at least once"
        )
        assert await completed_run(db, DAY) is None
        await publish(js, subjects, events)
        await wait_until(lambda: completed_run(db, DAY), what="day complete")
    assert await stored_rows(db, DAY) == expected_rows(events)


async def _metric(processor, kind: str) -> float:  # type: ignore[no-untyped-def]
    value: float = processor.metrics.messages.labels(kind)._value.get()
    return value


async def test_corrected_rerun_converges_and_stale_redelivery_loses(
    processor, db: asyncpg.Pool, js: JetStreamContext, subjects: Subjects
) -> None:
    first = make_day(DAY, 300, "run-a")
    corrected = make_day(DAY, 250, "run-b", seed=7, scale=3)  # other counts, 50 packages fewer
    async with running_consumer(processor):
        await publish_run(js, subjects, first)
        await wait_until(lambda: completed_run(db, DAY), what="first run")
        await publish_run(js, subjects, corrected)
        await wait_until(lambda: _is(completed_run(db, DAY), "run-b"), what="corrected run")
    assert await stored_rows(db, DAY) == expected_rows(corrected)
    assert await stored_rows(db, DAY, include_all=True) - await stored_rows(db, DAY) == expected_all(
        corrected
    )
    assert await rollups.count_packages(db) == 250
    # A redelivered package-day of the old run (a lower stream sequence) must not win.
    stale = first[10]
    written = await processor.write([(stale, 1)])
    assert (written.applied, written.stale) == (0, 1)
    # Nor the old run's manifest.
    done = await processor.finish_day(manifest_for(DAY, "run-a", first), 2)
    assert done.outcome is Outcome.SUPERSEDED
    assert await stored_rows(db, DAY) == expected_rows(corrected)
    assert await completed_run(db, DAY) == "run-b"


async def _is(awaitable, value) -> bool:  # type: ignore[no-untyped-def]
    return bool(await awaitable == value)


async def test_redelivered_batch_counts_nothing_twice(processor, db: asyncpg.Pool) -> None:
    events = make_day(DAY, 50, "run-r")
    items = [(e, 100 + i) for i, e in enumerate(events)]
    first = await processor.write(items)
    again = await processor.write(items)
    assert first.applied == again.applied == 50
    assert await stored_rows(db, DAY) == expected_rows(events)
    done = await processor.finish_day(manifest_for(DAY, "run-r", events), 1000)
    again_done = await processor.finish_day(manifest_for(DAY, "run-r", events), 1000)
    assert done.outcome is again_done.outcome is Outcome.COMPLETED
    assert await stored_rows(db, DAY, include_all=True) - await stored_rows(db, DAY) == expected_all(events)


async def test_retention_hides_old_days_drops_whole_years_and_ignores_expired_days(
    new_processor, db: asyncpg.Pool
) -> None:
    processor = new_processor(retention_days=10)
    december, early_feb, last = dt.date(2023, 12, 10), dt.date(2024, 2, 5), dt.date(2024, 2, 28)
    for seq, day in enumerate((december, early_feb, last), start=1):
        events = make_day(day, 20, f"run-{day}")
        await processor.write([(e, 10 * seq) for e in events])
        assert (
            await processor.finish_day(manifest_for(day, f"run-{day}", events), 10 * seq + 1)
        ).outcome is Outcome.COMPLETED
    # cutoff 2024-02-18: December 2023, compacted once closed, went with the whole year 2023;
    # February's early days stay on disk (open, their month is not closed) but no reader sees them
    assert await db.fetchval("SELECT cutoff FROM retention_state") == dt.date(2024, 2, 18)
    assert await db.fetchval("SELECT to_regclass('downloads_months_y2023')") is None
    assert await db.fetchval("SELECT count(*) FROM downloads_days WHERE day < $1", early_feb) == 0
    assert await db.fetchval("SELECT count(*) FROM downloads_days WHERE day = $1", early_feb) == 20
    assert await db.fetchval("SELECT count(*) FROM daily_downloads WHERE day = $1", early_feb) == 0
    assert await db.fetchval("SELECT count(*) FROM downloads_all WHERE day < $1", dt.date(2024, 2, 18)) == 0
    assert await db.fetchval("SELECT to_regclass('downloads_months_y2024')") is not None
    assert [r["day"] for r in await db.fetch("SELECT day FROM ingest_days")] == [last]
    late = make_day(december, 5, "late")
    written = await processor.write([(e, 40) for e in late])
    assert written.expired == 5 and written.applied == 0
    assert (await processor.finish_day(manifest_for(december, "late", late), 41)).outcome is Outcome.EXPIRED
    assert await db.fetchval("SELECT to_regclass('downloads_months_y2023')") is None


async def test_a_run_that_never_completes_is_dead_lettered_after_max_attempts(
    new_processor, db: asyncpg.Pool, js: JetStreamContext, subjects: Subjects
) -> None:
    processor = new_processor(manifest_max_attempts=3, manifest_retry_delay=0.1)
    events = make_day(DAY, 20, "lossy")
    manifest = manifest_for(DAY, "lossy", events)
    dead = await js.pull_subscribe(subjects.dead, stream=subjects.dead_stream)
    async with running_consumer(processor):
        await publish(js, subjects, events[:-1])  # one package-day never arrives
        await publish_manifest(js, subjects, manifest)
        msgs = await dead.fetch(1, timeout=20)
    letter = DeadLetter.model_validate_json(msgs[0].data)
    assert letter.subject == subjects.manifest(DAY)
    assert letter.reason.startswith("incomplete_run: run lossy has 19 of 20")
    assert await completed_run(db, DAY) is None
    assert processor.metrics.dead_letters.labels("incomplete_run")._value.get() == 1
    assert processor.metrics.messages.labels("manifest_retry")._value.get() >= 3


async def test_a_partly_filled_batch_is_never_dropped_until_ack_wait(
    new_processor, db: asyncpg.Pool, js: JetStreamContext, subjects: Subjects
) -> None:
    # Tiny fetch windows and batches that never fill: every batch ends on an expired fetch with
    # part of it fetched. Were that part dropped (shared.messaging.guard_fetch_timeouts), it would
    # come back only after ACK_WAIT (120 s), far past this test's deadline.
    processor = new_processor(batch_size=1000, fetch_timeout=0.002, ack_wait=120)
    events = make_day(DAY, 600, "trickle")
    async with running_consumer(processor):
        for start in range(0, len(events), 3):
            await publish(js, subjects, events[start : start + 3])
        await publish_manifest(js, subjects, manifest_for(DAY, "trickle", events))
        await wait_until(lambda: completed_run(db, DAY), timeout=30, what="the trickled day to complete")
    assert await stored_rows(db, DAY) == expected_rows(events)
