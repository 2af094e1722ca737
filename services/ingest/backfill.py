"""The backfill: a range of days (years of them) from the source, newest first, resumable.

Owns ``python -m services.ingest backfill``'s work once the range is known:

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
import time
from dataclasses import dataclass, field

import asyncpg
from redis.asyncio import Redis
from tqdm import tqdm

from shared.logging import get_logger
from shared.tasks import stop_task

from .channels import Outlet
from .config import IngestSettings
from .follow import Follower
from .lock import PassRequest, RedisLock, keep_renewing, lock_key, take_for_backfill
from .metrics import IngestMetrics
from .runner import RENEWER_STOP_S, complete_span, ingest_day, is_complete
from .schedule import BackfillPlan, plan_backfill
from .sources.base import Source

log = get_logger(__name__)


class PlanError(ValueError):
    """The backfill cannot be planned (bad range, ``ingest_days`` unreadable)."""


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
            if skip_complete and await is_complete(pool, day):
                result.skipped.append(day)  # completed meanwhile (a scheduler pass, another backfill)
                bar.update(1)
                continue
            if follower is not None:
                await follower.room()
            lock = RedisLock(redis, key, settings.ingest_lock_ttl_s, holder="backfill")
            if await request.posted():
                result.yielded += 1
                log.info("backfill yielding to the scheduler's pass", next_day=day.isoformat())
            await take_for_backfill(lock, request, poll_s=poll_s)
            renewer = asyncio.create_task(
                keep_renewing(lock, settings.ingest_lock_ttl_s / 3), name="backfill-lock-renewer"
            )
            try:
                with tqdm(
                    desc=day.isoformat(), unit="pkg", disable=not show_progress, position=1, leave=False
                ) as day_bar:
                    one = await ingest_day(out, source, day, settings, metrics, progress=day_bar.update)
            finally:
                await stop_task(renewer, RENEWER_STOP_S)
                with contextlib.suppress(Exception):
                    await lock.release()
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
        await follower.finish()
    if follower is not None:
        result.purged = list(follower.purged)
    result.seconds = time.perf_counter() - started
    return result
