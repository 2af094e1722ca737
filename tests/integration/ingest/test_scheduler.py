"""The scheduler's pass against real Redis, PostgreSQL and NATS: the lock and the days it fills."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
from nats.js import JetStreamContext
from redis.asyncio import Redis

from services.ingest.channels import Outlet
from services.ingest.config import IngestSettings
from services.ingest.lock import RedisLock
from services.ingest.metrics import IngestMetrics
from services.ingest.runner import scheduled_pass
from services.ingest.sources.base import RawCounts
from services.ingest.sources.synthetic import SyntheticSource
from shared.events import Subjects
from tests.integration.ingest.streams import read_stream, stream_message_count

NOW = dt.datetime(2024, 5, 10, 1, 0, tzinfo=dt.UTC)
D = dt.date


def settings_for(namespace: str, redis_url: str, database_url: str) -> IngestSettings:
    return IngestSettings(
        namespace=namespace,
        redis_url=redis_url,
        database_url=database_url,
        retention_days=3,
        ingest_resettle_days=1,
        synthetic_packages=20,
        source="synthetic",
    )


async def test_the_lock_has_one_owner_at_a_time(redis: Redis, namespace: str) -> None:
    key = f"{namespace}:ingest:lock"
    a, b = RedisLock(redis, key, 30), RedisLock(redis, key, 30)
    assert await a.acquire()
    assert not await b.acquire()
    assert not await b.release() and not await b.renew()  # not the owner: changes nothing
    assert await redis.get(key) == a.token.encode()
    assert await a.renew()
    assert await a.release()
    assert await b.acquire()
    assert 0 < await redis.pttl(key) <= 30_000
    await b.release()


async def test_a_pass_fills_missing_days_and_resettles(outlet: Outlet,
    js: JetStreamContext, subjects: Subjects, redis: Redis, db: asyncpg.Pool, namespace: str, redis_url: str,
    database_url: str,
) -> None:  # fmt: skip
    await db.execute(
        "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors)"
        " VALUES ($1, 'old', 'synthetic', 1, 1, 1)",
        D(2024, 5, 7),
    )
    settings = settings_for(namespace, redis_url, database_url)
    metrics = IngestMetrics()
    source = SyntheticSource(20)
    result = await scheduled_pass(outlet, source, settings, metrics, redis, db, now=NOW)
    assert result is not None and result.failed == []
    days = result.done
    assert days == result.planned == [D(2024, 5, 9), D(2024, 5, 8), D(2024, 5, 6)]
    contents = await read_stream(js, subjects)
    assert [m.day for m in contents.manifests] == days
    assert len(contents.package_days) == 60
    assert metrics.runs.labels("ok")._value.get() == 3
    assert await redis.get(f"{namespace}:ingest:lock") is None  # released


async def test_only_one_of_two_concurrent_passes_runs(outlet: Outlet,
    js: JetStreamContext, subjects: Subjects, redis: Redis, db: asyncpg.Pool, namespace: str, redis_url: str,
    database_url: str,
) -> None:  # fmt: skip
    settings = settings_for(namespace, redis_url, database_url)
    metrics = IngestMetrics()
    source = SyntheticSource(20)
    one, two = await asyncio.gather(
        scheduled_pass(outlet, source, settings, metrics, redis, db, now=NOW),
        scheduled_pass(outlet, source, settings, metrics, redis, db, now=NOW),
    )
    assert sorted([one is None, two is None]) == [False, True]
    ran = one or two
    assert ran is not None and ran.done == [D(2024, 5, 9), D(2024, 5, 8), D(2024, 5, 7), D(2024, 5, 6)]
    assert await stream_message_count(js, subjects) == 4 * 21


async def test_a_held_lock_skips_the_pass_and_publishes_nothing(
    outlet: Outlet,
    js: JetStreamContext,
    subjects: Subjects,
    redis: Redis,
    namespace: str,
    redis_url: str,
    database_url: str,
) -> None:
    other = RedisLock(redis, f"{namespace}:ingest:lock", 30)
    assert await other.acquire()
    settings = settings_for(namespace, redis_url, database_url)
    result = await scheduled_pass(outlet, SyntheticSource(5), settings, IngestMetrics(), redis, None, now=NOW)
    assert result is None
    assert await stream_message_count(js, subjects) == 0
    assert await redis.get(f"{namespace}:ingest:lock") == other.token.encode()  # untouched


async def test_a_waiting_taker_gets_the_lock_once_its_holder_releases_it(
    redis: Redis, namespace: str
) -> None:
    key = f"{namespace}:ingest:lock"
    holder, patient, impatient = (
        RedisLock(redis, key, 30),
        RedisLock(redis, key, 30),
        RedisLock(redis, key, 30),
    )
    assert await holder.acquire()
    started = asyncio.get_running_loop().time()
    assert not await impatient.acquire(wait_s=0.3, poll_s=0.05)  # gives up after its wait
    assert asyncio.get_running_loop().time() - started >= 0.3
    waiting = asyncio.create_task(patient.acquire(wait_s=30, poll_s=0.05))
    assert not waiting.done()
    assert await holder.release()
    assert await asyncio.wait_for(waiting, 10)
    assert await redis.get(key) == patient.token.encode()
    await patient.release()


async def test_a_failing_day_is_reported_and_the_pass_goes_on(outlet: Outlet,
    js: JetStreamContext, subjects: Subjects, redis: Redis, db: asyncpg.Pool, namespace: str, redis_url: str,
    database_url: str,
) -> None:  # fmt: skip
    class FlakySource(SyntheticSource):
        async def iter_day(self, day: dt.date) -> AsyncIterator[tuple[str, RawCounts]]:
            if day == D(2024, 5, 8):
                raise RuntimeError("source broke for this day")
            async for item in super().iter_day(day):
                yield item

    settings = settings_for(namespace, redis_url, database_url)
    metrics = IngestMetrics()
    result = await scheduled_pass(outlet, FlakySource(5), settings, metrics, redis, db, now=NOW)
    assert result is not None
    assert result.failed == [D(2024, 5, 8)]
    assert result.done == [D(2024, 5, 9), D(2024, 5, 7), D(2024, 5, 6)]
    contents = await read_stream(js, subjects)
    assert [m.day for m in contents.manifests] == result.done
    assert metrics.runs.labels("failed")._value.get() == 1


async def test_the_gap_window_is_ingest_gap_days_when_every_day_is_kept(outlet: Outlet,
    js: JetStreamContext, subjects: Subjects, redis: Redis, db: asyncpg.Pool, namespace: str, redis_url: str,
    database_url: str,
) -> None:  # fmt: skip
    settings = settings_for(namespace, redis_url, database_url).model_copy(
        update={"retention_days": None, "ingest_gap_days": 2, "ingest_resettle_days": 0}
    )
    result = await scheduled_pass(outlet, SyntheticSource(5), settings, IngestMetrics(), redis, db, now=NOW)
    assert result is not None and result.done == [D(2024, 5, 9), D(2024, 5, 8), D(2024, 5, 7)]
    assert [m.day for m in (await read_stream(js, subjects)).manifests] == result.done
