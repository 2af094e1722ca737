"""The backfill: a range of days (years of them) from the source, newest first, resumable.

Owns ``python -m services.ingest backfill`` (:func:`command`; app.py parses its arguments):
the range (``--start first`` is the source's first day, ``--end`` defaults to the last closed
day, checked before anything connects), then:

1. **plan**: the days of the range newest first, without those already complete in
   ``ingest_days`` (so a backfill stopped by a crash or Ctrl-C resumes where it was: a day it had
   half published is simply ingested again, which is safe because publishing is idempotent by
   ``Nats-Msg-Id`` and the aggregator replaces package-days) and without those before
   ``RETENTION_DAYS`` (the aggregator would drop them);
2. **estimate**: every remaining day's dry run, summed, in bytes and dollars, refused above the
   budget (:mod:`services.ingest.cost`); ``--dry-run`` stops here;
3. **ingest**: one day at a time under the ingest lock, taken per day and handed to a scheduler
   pass that asks for it (:mod:`services.ingest.lock`), so the daily run never waits more than
   the backfill's current day; a day found complete meanwhile is skipped. With a database, the
   backfill stays at most ``BACKFILL_AHEAD_DAYS`` ahead of the aggregator and purges the events
   of days older than the stream window once they are complete (:mod:`services.ingest.follow`).
   A progress bar of days with its ETA and packages per second, one structured log line per day.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Literal, Never

import asyncpg
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tqdm import tqdm

from shared.logging import get_logger
from shared.tasks import stop_task

from . import cost
from .channels import Outlet
from .config import IngestSettings
from .follow import Follower
from .lock import PassRequest, RedisLock, keep_renewing, lock_key, take_for_backfill
from .metrics import IngestMetrics
from .runner import RENEWER_STOP_S, complete_span, ingest_day, is_complete, make_source, open_pool, outlet
from .schedule import BackfillPlan, check_range, last_closed_day, plan_backfill
from .sources.base import HasFirstDay, Source, SourceError

log = get_logger(__name__)

#: Exit status of a backfill whose day failed, or without Redis for the lock.
EXIT_FAILED = 1


class PlanError(ValueError):
    """The backfill cannot be planned (bad range, ``ingest_days`` unreadable)."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM, seen between two days (when the cancel itself was lost on the way)."""


class Stop:
    """The signal that stops a backfill. Each signal cancels the running task *and* sets this flag,
    checked between days and while waiting for the aggregator: on Python 3.11 a cancel can be lost
    inside ``asyncio.wait_for`` (redis-py's and asyncpg's timeouts; see shared.tasks), and a lost
    Ctrl-C must not let a backfill of years carry on."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None

    def check(self) -> None:
        if self:
            raise Interrupted(f"signal {self.signum}")


async def plan(
    pool: asyncpg.Pool | None,
    start: dt.date,
    end: dt.date,
    settings: IngestSettings,
    *,
    last_closed: dt.date,
    include_complete: bool = False,
) -> BackfillPlan:
    """The days to ingest, newest first; the complete ones are read from ``ingest_days`` unless
    ``include_complete`` (then ``pool`` may be ``None``)."""
    complete: set[dt.date] = set()
    if not include_complete:
        if pool is None:
            raise PlanError(
                "cannot read ingest_days (the database is unavailable) to skip the complete days;"
                " --include-complete ingests every day without it"
            )
        try:
            complete = await complete_span(pool, start, end)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            raise PlanError(f"cannot read ingest_days: {type(exc).__name__}: {exc}") from exc
    try:
        return plan_backfill(
            start, end, last_closed=last_closed, complete=complete, retention_days=settings.retention_days
        )
    except ValueError as exc:
        raise PlanError(str(exc)) from exc


@dataclass
class BackfillResult:
    """What a backfill did: days ingested (newest first), skipped as complete meanwhile, failed."""

    done: list[dt.date] = field(default_factory=list)
    skipped: list[dt.date] = field(default_factory=list)
    packages: int = 0
    seconds: float = 0.0
    yielded: int = 0
    purged: list[dt.date] = field(default_factory=list)
    #: Days the aggregator did not complete while the backfill waited (see follow.py).
    given_up: list[dt.date] = field(default_factory=list)


async def run(
    out: Outlet,
    source: Source,
    days: list[dt.date],
    settings: IngestSettings,
    metrics: IngestMetrics,
    redis: Redis,
    pool: asyncpg.Pool | None,
    *,
    show_progress: bool = True,
    skip_complete: bool = True,
    follower: Follower | None = None,
    poll_s: float = 1.0,
    stop: Stop | None = None,
) -> BackfillResult:
    """Ingest ``days`` in the order given, each under the ingest lock (taken per day, handed to a
    scheduler pass that asks for it), with room made first by the ``follower`` when there is one
    (then it also waits for the last days to complete). A failing day stops the backfill (its
    error propagates); run it again to resume."""
    key = lock_key(settings.redis_prefix)
    request = PassRequest(redis, key)
    result = BackfillResult()
    started = time.perf_counter()
    ingesting = 0.0
    with tqdm(total=len(days), desc="days", unit="day", disable=not show_progress, position=0) as bar:
        for index, day in enumerate(days):
            if stop is not None:
                stop.check()
            if skip_complete and await is_complete(pool, day):
                result.skipped.append(day)  # completed meanwhile (a scheduler pass, another backfill)
                bar.update(1)
                continue
            if follower is not None:
                await follower.room(stop)
            lock = RedisLock(redis, key, settings.ingest_lock_ttl_s, holder="backfill")
            if await request.posted():
                result.yielded += 1
                log.info("backfill yielding to the scheduler's pass", next_day=day.isoformat())
            renewer: asyncio.Task[None] | None = None
            try:  # a cancel while the lock is being taken may leave it taken: released below too
                await take_for_backfill(lock, request, poll_s=poll_s)
                renewer = asyncio.create_task(
                    keep_renewing(lock, settings.ingest_lock_ttl_s / 3), name="backfill-lock-renewer"
                )
                with tqdm(
                    desc=day.isoformat(), unit="pkg", disable=not show_progress, position=1, leave=False
                ) as day_bar:
                    one = await ingest_day(out, source, day, settings, metrics, progress=day_bar.update)
            finally:
                if renewer is not None:
                    await stop_task(renewer, RENEWER_STOP_S)
                with contextlib.suppress(Exception):
                    await lock.release()  # only ours: the token is checked
            result.done.append(day)
            if follower is not None:
                follower.published(day, one.run_id, one.manifest_seq)
            result.packages += one.packages
            ingesting += one.seconds
            rate = result.packages / ingesting if ingesting > 0 else 0.0
            bar.update(1)
            bar.set_postfix(day=day.isoformat(), pkg_s=f"{rate:.0f}")
            elapsed = time.perf_counter() - started
            left = len(days) - index - 1
            log.info(
                "backfill day done",
                day=day.isoformat(),
                packages=one.packages,
                rows=one.rows,
                seconds=round(one.seconds, 3),
                packages_per_s=round(rate, 1),
                days_done=len(result.done),
                days_left=left,
                eta_s=round(elapsed / (index + 1) * left, 1),
            )
    if follower is not None and follower.pending:
        log.info("backfill published; waiting for the aggregator to complete", pending=len(follower.pending))
        await follower.finish(stop)
    if follower is not None:
        result.purged, result.given_up = list(follower.purged), list(follower.given_up)
    result.seconds = time.perf_counter() - started
    return result


async def first_day_of(source: Source) -> dt.date:
    """The first day the source has (``SourceError`` for a source that cannot say)."""
    if not isinstance(source, HasFirstDay):
        raise SourceError(f"the {source.name} source cannot say its first day")
    return await asyncio.to_thread(source.first_day)


async def command(
    settings: IngestSettings,
    start_at: dt.date | Literal["first"],
    end_at: dt.date | None,
    *,
    source_name: str | None = None,
    dry_run: bool = False,
    max_usd: float | None = None,
    include_complete: bool = False,
    progress: bool = True,
) -> int:
    """Plan, estimate (refusing above the budget), then ingest newest first under the lock.

    stdout gets one JSON line with the plan and the estimate, and after a run one with what it
    did; bad input or a refused budget raise ``ValueError`` before anything is published. Ctrl-C
    or SIGTERM stop it (the lock released on the way out): exit status 130 or 143."""
    main_task = asyncio.current_task()
    assert main_task is not None
    stop = Stop()

    def stop_on(signum: int) -> None:
        stop.signum = signum
        main_task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop_on, signum)
    try:
        return await _command(
            settings, start_at, end_at, source_name=source_name, dry_run=dry_run, max_usd=max_usd,
            include_complete=include_complete, progress=progress, stop=stop,
        )  # fmt: skip
    except (asyncio.CancelledError, Interrupted):
        if not stop:
            raise
        log.warning("backfill interrupted; run the same command again to resume", signal=stop.signum)
        return 128 + (stop.signum or 0)


async def _command(
    settings: IngestSettings,
    start_at: dt.date | Literal["first"],
    end_at: dt.date | None,
    *,
    source_name: str | None,
    dry_run: bool,
    max_usd: float | None,
    include_complete: bool,
    progress: bool,
    stop: Stop,
) -> int:
    metrics = IngestMetrics(CollectorRegistry())
    source = make_source(settings, metrics, source_name)
    last_closed = last_closed_day(dt.datetime.now(dt.UTC))
    start = await first_day_of(source) if start_at == "first" else start_at
    end = end_at or last_closed
    check_range(start, end, last_closed)  # bad input fails here, before any connection
    pool = await open_pool(
        settings.database_url, "the backfill can neither skip complete days nor follow the aggregator"
    )
    try:
        found = await plan(
            pool, start, end, settings, last_closed=last_closed, include_complete=include_complete
        )
        log.info(
            "backfill planned", start=start.isoformat(), end=end.isoformat(), days=len(found.days),
            complete=found.complete, before_retention=found.before_retention,
        )  # fmt: skip
        with contextlib.closing(_bar(len(found.days), "dry runs", not progress)) as bar:
            estimate = await cost.estimate(
                source, source.name, found.days, settings.bigquery_usd_per_tib, progress=bar.update
            )
        budget = settings.backfill_max_usd if max_usd is None else max_usd
        report = {
            "start": start.isoformat(), "end": end.isoformat(), "complete": found.complete,
            "before_retention": found.before_retention, "max_usd": budget, **estimate.report(),
        }  # fmt: skip
        sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
        sys.stdout.flush()
        log.info("backfill estimate", summary=estimate.sentence(), bytes=estimate.bytes,
                 usd=round(estimate.usd, 2), max_usd=budget)  # fmt: skip
        cost.check_budget(
            estimate, max_usd=budget, max_bytes=settings.bigquery_max_bytes if estimate.billed else None
        )
        if dry_run or not found.days:
            return 0
        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        try:
            async with outlet(settings) as (_broker, out):
                result = await run(
                    out, source, found.days, settings, metrics, redis, pool,
                    show_progress=progress, skip_complete=not include_complete,
                    follower=follower_of(settings, pool, out, last_closed), stop=stop,
                )  # fmt: skip
        except RedisError as exc:
            log.error("cannot take the ingest lock", error=f"{type(exc).__name__}: {exc}")
            return EXIT_FAILED
        finally:
            await redis.aclose()
    finally:
        if pool is not None:
            await pool.close()
    log.info("backfill done", days=len(result.done), skipped=len(result.skipped), packages=result.packages,
             purged=len(result.purged), seconds=round(result.seconds, 1))  # fmt: skip
    summary = {
        "done": len(result.done), "skipped": len(result.skipped), "packages": result.packages,
        "purged": len(result.purged), "not_completed": [d.isoformat() for d in result.given_up],
        "newest": result.done[0].isoformat() if result.done else None,
        "oldest": result.done[-1].isoformat() if result.done else None,
    }  # fmt: skip
    sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
    return 0


def follower_of(
    settings: IngestSettings, pool: asyncpg.Pool | None, out: Outlet, last_closed: dt.date
) -> Follower | None:
    """The backfill's bounds behind the aggregator (``BACKFILL_AHEAD_DAYS``), when it can read them."""
    if settings.backfill_ahead_days == 0:
        return None
    if pool is None:
        log.warning("without the database the backfill cannot follow the aggregator: no wait, no purge")
        return None
    purge_before = last_closed - dt.timedelta(days=settings.stream_retention_days)
    return Follower(pool, out.js, out.subjects, ahead=settings.backfill_ahead_days, purge_before=purge_before)


def _bar(total: int, desc: str, hidden: bool) -> tqdm[Never]:
    return tqdm(total=total, desc=desc, unit="day", disable=hidden, leave=False)
