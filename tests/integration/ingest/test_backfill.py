"""The backfill against real Redis, PostgreSQL and NATS: it hands the ingest lock to a scheduled
pass between its days, skips complete days, resumes after Ctrl-C or a crash, and stays close
behind the real aggregator, purging its old days' events from the stream once they are complete."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from services.ingest import backfill
from services.ingest.channels import Outlet
from services.ingest.config import IngestSettings
from services.ingest.follow import Follower
from services.ingest.lock import PassRequest, RedisLock, lock_key
from services.ingest.metrics import IngestMetrics
from services.ingest.runner import scheduled_pass
from services.ingest.sources.base import RawCounts
from services.ingest.sources.synthetic import SyntheticSource
from shared.events import Subjects
from tests.integration.ingest.streams import read_stream, stream_message_count
from tests.integration.ingest.test_cli import ROOT, ingest
from tests.reliability.support import AggregatorProcess
from tests.support.wait import wait_until

NOW = dt.datetime(2024, 5, 10, 1, 0, tzinfo=dt.UTC)
D = dt.date
INSERT_DAY = (
    "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors)"
    " VALUES ($1, 'old', 'synthetic', 1, 1, 1)"
)


def settings_for(namespace: str, redis_url: str, database_url: str, **extra: object) -> IngestSettings:
    fields: dict[str, object] = {
        "namespace": namespace, "redis_url": redis_url, "database_url": database_url, "retention_days": 3,
        "ingest_resettle_days": 1, "synthetic_packages": 10, "source": "synthetic", **extra,
    }  # fmt: skip
    return IngestSettings(**fields)  # type: ignore[arg-type]


class HeldDay(SyntheticSource):
    """Synthetic days, except that ``held`` waits for ``release`` before it yields anything."""

    def __init__(self, held: dt.date, release: asyncio.Event) -> None:
        super().__init__(10)
        self.held, self.release = held, release

    async def iter_day(self, day: dt.date) -> AsyncIterator[tuple[str, RawCounts]]:
        if day == self.held:
            await self.release.wait()
        async for item in super().iter_day(day):
            yield item


async def test_a_scheduled_pass_publishes_its_newest_day_before_the_backfill_s_next_day(
    outlet: Outlet, js: JetStreamContext, subjects: Subjects, redis: Redis, db: asyncpg.Pool,
    namespace: str, redis_url: str, database_url: str,
) -> None:  # fmt: skip
    settings = settings_for(namespace, redis_url, database_url)
    key = lock_key(settings.redis_prefix)
    history = [D(2023, 1, 3), D(2023, 1, 2), D(2023, 1, 1)]  # a long backfill's next days, newest first
    release = asyncio.Event()
    source = HeldDay(history[0], release)
    metrics = IngestMetrics()
    filling = asyncio.create_task(
        backfill.run(outlet, source, history, settings, metrics, redis, db, show_progress=False, poll_s=0.05)
    )
    lock = RedisLock(redis, key, 30)
    await wait_until(lambda: _held_by(lock, "backfill"), timeout=10, what="the backfill to hold the lock")
    # the scheduler's pass, as `serve` runs it (lock_wait 0): it must neither skip nor wait for the backfill's end
    daily = asyncio.create_task(
        scheduled_pass(outlet, SyntheticSource(10), settings, metrics, redis, db, now=NOW, poll_s=0.05)
    )
    await wait_until(PassRequest(redis, key).posted, timeout=10, what="the pass to ask for the lock")
    assert await stream_message_count(js, subjects) == 0  # the backfill's day is still open
    release.set()
    passed = await asyncio.wait_for(daily, 30)
    filled = await asyncio.wait_for(filling, 30)

    assert passed is not None and passed.failed == []
    assert passed.planned == [D(2024, 5, 9), D(2024, 5, 8), D(2024, 5, 7), D(2024, 5, 6)]
    assert filled.done == history and filled.yielded == 1
    manifests = [m.day for m in (await read_stream(js, subjects)).manifests]
    # the backfill finished the day it had started, then the pass went, then the backfill went on
    assert manifests == [history[0], *passed.planned, *history[1:]]
    assert await redis.get(key) is None and not await PassRequest(redis, key).posted()


async def _held_by(lock: RedisLock, kind: str) -> bool:
    return await lock.holder() == kind


async def test_a_pass_waits_for_a_backfill_only_up_to_its_bound(
    outlet: Outlet, js: JetStreamContext, subjects: Subjects, redis: Redis, namespace: str, redis_url: str,
    database_url: str,
) -> None:  # fmt: skip
    settings = settings_for(namespace, redis_url, database_url, ingest_backfill_yield_s=0.3)
    key = lock_key(settings.redis_prefix)
    stuck = RedisLock(redis, key, 30, holder="backfill")  # a backfill day that does not end
    assert await stuck.acquire()
    started = asyncio.get_running_loop().time()
    result = await scheduled_pass(
        outlet, SyntheticSource(5), settings, IngestMetrics(), redis, None, now=NOW, poll_s=0.05
    )
    assert result is None and asyncio.get_running_loop().time() - started >= 0.3
    assert await stream_message_count(js, subjects) == 0
    assert await redis.get(key) == stuck.token.encode()  # untouched
    assert not await PassRequest(redis, key).posted()  # its request withdrawn on the way out


async def test_a_backfill_that_fails_on_a_day_releases_the_lock_and_a_rerun_does_only_the_rest(
    outlet: Outlet, js: JetStreamContext, subjects: Subjects, redis: Redis, db: asyncpg.Pool,
    namespace: str, redis_url: str, database_url: str,
) -> None:  # fmt: skip
    class Breaks(SyntheticSource):
        async def iter_day(self, day: dt.date) -> AsyncIterator[tuple[str, RawCounts]]:
            async for k, item in _enumerate(super().iter_day(day)):
                if day == D(2023, 1, 2) and k == 4:
                    raise RuntimeError("the source broke half way through the day")
                yield item

    settings = settings_for(namespace, redis_url, database_url, retention_days=None)
    span = (D(2023, 1, 1), D(2023, 1, 4))
    first = await backfill.plan(db, *span, settings, last_closed=NOW.date())
    assert first.days == [D(2023, 1, 4), D(2023, 1, 3), D(2023, 1, 2), D(2023, 1, 1)]
    with pytest.raises(RuntimeError, match="half way"):
        await backfill.run(
            outlet, Breaks(10), first.days, settings, IngestMetrics(), redis, db, show_progress=False
        )
    assert await redis.get(lock_key(settings.redis_prefix)) is None
    published = [m.day for m in (await read_stream(js, subjects)).manifests]
    assert published == [D(2023, 1, 4), D(2023, 1, 3)]  # and half of 2023-01-02, without its manifest

    for day in published:  # what the aggregator records once it has completed them
        await db.execute(INSERT_DAY, day)
    again = await backfill.plan(db, *span, settings, last_closed=NOW.date())
    assert again.days == [D(2023, 1, 2), D(2023, 1, 1)] and again.complete == 2
    await backfill.run(outlet, SyntheticSource(10), again.days, settings, IngestMetrics(), redis, db,
                       show_progress=False)  # fmt: skip
    contents = await read_stream(js, subjects)
    assert [m.day for m in contents.manifests] == [*published, D(2023, 1, 2), D(2023, 1, 1)]
    [rerun] = [m.run_id for m in contents.manifests if m.day == D(2023, 1, 2)]
    assert len(contents.by_run(rerun)) == 10  # the half-published day, whole under its new run


async def _enumerate(
    items: AsyncIterator[tuple[str, RawCounts]],
) -> AsyncIterator[tuple[int, tuple[str, RawCounts]]]:
    k = 0
    async for item in items:
        yield k, item
        k += 1


async def test_backfill_command_skips_complete_days_and_resumes_after_ctrl_c(
    service_env: dict[str, str], js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool, redis: Redis,
    namespace: str,
) -> None:  # fmt: skip
    days = [D(2024, 3, 6) - dt.timedelta(days=k) for k in range(6)]  # newest first
    await db.execute(INSERT_DAY, D(2024, 3, 5))
    env = {**service_env, "SYNTHETIC_PACKAGES": "600", "BACKFILL_AHEAD_DAYS": "0"}  # no aggregator here
    args = ("backfill", "--start", "2024-03-01", "--end", "2024-03-06", "--source", "synthetic")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.ingest", *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        estimate = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        assert (estimate["days"], estimate["complete"], estimate["bytes"], estimate["usd"]) == (5, 1, 0, 0.0)
        while True:  # until the first day is done (each log line is one JSON object)
            line = await asyncio.wait_for(proc.stderr.readline(), 60)
            assert line, "the backfill ended before its first day was done"
            if b'"backfill day done"' in line:
                break
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130, err.decode()[-2000:]
    assert b"run the same command again to resume" in err
    assert await redis.get(f"{namespace}:ingest:lock") is None  # released on the way out
    published = [m.day for m in (await read_stream(js, subjects)).manifests]
    assert published[0] == days[0] and D(2024, 3, 5) not in published and len(published) < 5

    for day in published:  # the aggregator completes what was published
        await db.execute(INSERT_DAY, day)
    code, out, err_s = await ingest(env, *args)
    assert code == 0, err_s[-2000:]
    estimate, summary = (json.loads(line) for line in out.splitlines())
    rest = [d for d in days if d not in published and d != D(2024, 3, 5)]
    assert estimate["days"] == len(rest) and estimate["complete"] == 6 - len(rest)
    assert summary["done"] == len(rest) and summary["newest"] == rest[0].isoformat()
    assert "days: 100%" in err_s  # the progress bar
    manifests = [m.day for m in (await read_stream(js, subjects)).manifests]
    assert manifests == [*published, *rest]  # each day once, newest first, the complete one never


async def test_backfill_command_refuses_a_day_not_closed_yet_and_publishes_nothing(
    service_env: dict[str, str], js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    code, out, err = await ingest(
        service_env, "backfill", "--start", "2024-03-01", "--end", today.isoformat()
    )
    assert code == 2 and out == ""
    assert "is not a closed UTC day yet" in err
    assert await stream_message_count(js, subjects) == 0


async def test_a_backfill_stays_close_behind_the_real_aggregator_and_purges_its_old_days(
    outlet: Outlet, js: JetStreamContext, subjects: Subjects, redis: Redis, db: asyncpg.Pool,
    namespace: str, redis_url: str, database_url: str, service_env: dict[str, str], tmp_path: Path,
) -> None:  # fmt: skip
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    days = [last - dt.timedelta(days=k) for k in range(5)]  # newest first
    settings = settings_for(namespace, redis_url, database_url, retention_days=None)
    # a stream window of two days: the two oldest days are older than it, the three newest are not
    follower = Follower(
        db, outlet.js, subjects, ahead=2, purge_before=last - dt.timedelta(days=2), poll_s=0.05
    )
    ahead: list[int] = []
    record = follower.published

    def published(day: dt.date, run_id: str, manifest_seq: int) -> None:
        record(day, run_id, manifest_seq)
        ahead.append(len(follower.pending))

    follower.published = published  # type: ignore[method-assign]
    aggregator = AggregatorProcess(service_env, tmp_path).start()
    try:
        await wait_until(aggregator.ready, timeout=60, what="the aggregator to be ready")
        result = await asyncio.wait_for(
            backfill.run(outlet, SyntheticSource(10), days, settings, IngestMetrics(), redis, db,
                         show_progress=False, follower=follower, poll_s=0.05),
            90,
        )  # fmt: skip
    finally:
        aggregator.stop()
    assert result.done == days and max(ahead) <= 2 and follower.pending == {}
    completed = {r["day"]: r["run_id"] for r in await db.fetch("SELECT day, run_id FROM ingest_days")}
    assert set(completed) == set(days)  # the aggregator completed every day, the purged ones too
    assert result.purged == days[3:]
    contents = await read_stream(js, subjects)
    assert [m.day for m in contents.manifests] == days[:3]  # the window's days stay replayable
    assert {e.day for e in contents.package_days} == set(days[:3])
    assert {e.run_id for e in contents.package_days} == {completed[d] for d in days[:3]}


async def test_a_day_completed_by_a_later_run_releases_the_backfill_but_is_not_purged(
    outlet: Outlet, js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool
) -> None:
    old, newer = D(2023, 1, 1), D(2023, 1, 2)
    follower = Follower(db, outlet.js, subjects, ahead=1, purge_before=D(2024, 1, 1), poll_s=0.05)
    follower.published(old, "ours-old", manifest_seq=10)
    follower.published(newer, "ours-new", manifest_seq=20)
    insert = (
        "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors, manifest_seq)"
        " VALUES ($1, $2, 'synthetic', 1, 1, 1, $3)"
    )
    await db.execute(insert, old, "earlier-run", 5)  # complete from before ours: ours is still to come
    await db.execute(insert, newer, "scheduler-run", 30)  # re-ingested after ours by someone else
    await follower.settle()
    assert set(follower.pending) == {old} and follower.purged == []  # not our events that completed it
    await db.execute("UPDATE ingest_days SET run_id = 'ours-old', manifest_seq = 10 WHERE day = $1", old)
    await asyncio.wait_for(follower.finish(), 10)
    assert follower.pending == {} and follower.purged == [old]


async def test_a_day_the_aggregator_never_completes_is_given_up_on_after_a_stall(
    outlet: Outlet, subjects: Subjects, db: asyncpg.Pool
) -> None:
    follower = Follower(
        db, outlet.js, subjects, ahead=1, purge_before=D(2024, 1, 1), poll_s=0.05, stall_s=0.3
    )
    follower.published(D(2023, 1, 1), "never-completed", manifest_seq=10)  # e.g. skipped as superseded
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(follower.room(), 10)  # room for the next day once it gave up on this one
    assert asyncio.get_running_loop().time() - started >= 0.3
    assert follower.pending == {} and follower.given_up == [D(2023, 1, 1)] and follower.purged == []
