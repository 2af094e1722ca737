"""Running ingest passes: building the configured source, one day, a scheduled pass.

Owns the I/O shell around :mod:`services.ingest.publisher`: connecting the FastStream broker and
creating the streams, metrics per run (duration, status, last successful day, bytes scanned), the
``ingest_days`` record as the ingest side reads it, and the scheduler's pass (single-flight through
the Redis lock, ahead of a backfill: :mod:`services.ingest.lock`; days chosen by
:func:`services.ingest.schedule.plan_days` over ``INGEST_GAP_DAYS``). The backfill loop is
:mod:`services.ingest.backfill`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg
from faststream.nats import NatsBroker
from redis.asyncio import Redis
from tqdm import tqdm

from shared.db.pool import create_pool
from shared.events import Subjects
from shared.logging import get_logger
from shared.messaging import policy_of, retry_of
from shared.tasks import stop_task

from .channels import Outlet, connected
from .config import IngestSettings
from .lock import PassRequest, RedisLock, keep_renewing, lock_key, take_for_pass
from .metrics import IngestMetrics
from .publisher import RunResult, inspect_day, publish_day
from .schedule import plan_days
from .sources.base import Source
from .sources.synthetic import SyntheticSource

log = get_logger(__name__)

COMPLETE_DAYS_SQL = "SELECT day FROM ingest_days WHERE day >= $1"
COMPLETE_SPAN_SQL = "SELECT day FROM ingest_days WHERE day BETWEEN $1 AND $2"
IS_COMPLETE_SQL = "SELECT EXISTS (SELECT 1 FROM ingest_days WHERE day = $1)"
#: How long stopping the lock renewer may take before the pass goes on without it.
RENEWER_STOP_S = 5.0


def make_source(settings: IngestSettings, metrics: IngestMetrics, name: str | None = None) -> Source:
    """The source named by ``name`` (or the ``SOURCE`` setting), configured from settings."""
    chosen = name or settings.source
    if chosen == "synthetic":
        return SyntheticSource(
            settings.synthetic_packages, seed=settings.synthetic_seed, first=settings.synthetic_first_day
        )
    # The heavy client libraries are imported only by the source that needs them.
    if chosen == "raw":
        from .sources.raw import RawSource

        if not settings.raw_path:
            raise ValueError("the raw source needs RAW_PATH (a Parquet or JSON-lines export)")
        return RawSource(settings.raw_path, mirrors=settings.mirrors)
    if chosen == "bigquery":
        from .sources.bigquery import BigQuerySource, make_client

        client = make_client(settings.bigquery_project or None, settings.bigquery_api_endpoint or None)
        return BigQuerySource(
            client,
            max_bytes=settings.bigquery_max_bytes,
            mirrors=settings.mirrors,
            page_rows=settings.bigquery_page_rows,
            on_bytes=metrics.bytes_scanned.inc,
        )
    raise ValueError(f"unknown source {chosen!r}")


@contextlib.asynccontextmanager
async def outlet(settings: IngestSettings) -> AsyncIterator[tuple[NatsBroker, Outlet]]:
    """The connected broker, with the streams created (or updated) for the configured retention and replicas."""
    async with connected(
        settings.nats_url, Subjects(settings.namespace), policy_of(settings), retry=retry_of(settings)
    ) as found:
        yield found


def _midnight(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


async def ingest_day(
    out: Outlet,
    source: Source,
    day: dt.date,
    settings: IngestSettings,
    metrics: IngestMetrics,
    progress: Callable[[int], object] | None = None,
) -> RunResult:
    """Publish one day and record the run in the metrics (status ``ok`` or ``failed``)."""
    started = time.perf_counter()
    try:
        result = await publish_day(
            out,
            source,
            day,
            max_in_flight=settings.publish_max_in_flight,
            progress=progress,
            metrics=metrics,
            retry_s=settings.nats_retry_seconds,
        )
    except asyncio.CancelledError:
        metrics.runs.labels("cancelled").inc()
        raise
    except Exception:
        metrics.runs.labels("failed").inc()
        raise
    finally:
        metrics.run_duration.observe(time.perf_counter() - started)
    metrics.runs.labels("ok").inc()
    newest = metrics.last_success_day._value.get()
    metrics.last_success_day.set(max(newest, _midnight(day)))
    return result


async def dry_run_day(source: Source, day: dt.date, metrics: IngestMetrics) -> dict[str, object]:
    """What a run would do: the BigQuery bytes estimate, or the counts read from a local source."""
    estimate: Callable[[dt.date], int] | None = getattr(source, "dry_run", None)
    if estimate is not None:  # BigQuery: only the dry run, nothing is read
        scanned = await asyncio.to_thread(estimate, day)
        return {"day": day.isoformat(), "source": source.name, "bytes": scanned}
    result = await inspect_day(source, day, metrics=metrics)
    return {
        "day": day.isoformat(),
        "source": source.name,
        "packages": result.packages,
        "rows": result.rows,
        "skipped": result.skipped,
        "downloads_with_mirrors": result.downloads_with_mirrors,
    }


async def complete_span(pool: asyncpg.Pool, start: dt.date, end: dt.date) -> set[dt.date]:
    """Days from ``start`` to ``end`` recorded in ``ingest_days`` (database errors propagate)."""
    return {r["day"] for r in await pool.fetch(COMPLETE_SPAN_SQL, start, end)}


async def is_complete(pool: asyncpg.Pool | None, day: dt.date) -> bool:
    """Whether ``day`` is recorded in ``ingest_days``; False when the database does not answer."""
    if pool is None:
        return False
    try:
        return bool(await pool.fetchval(IS_COMPLETE_SQL, day))
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        log.warning("cannot read ingest_days; ingesting the day anyway", error=type(exc).__name__)
        return False


async def complete_days(pool: asyncpg.Pool | None, since: dt.date) -> set[dt.date] | None:
    """Days recorded in ``ingest_days`` since ``since``, or ``None`` when the database does not answer."""
    if pool is None:
        return None
    try:
        rows = await pool.fetch(COMPLETE_DAYS_SQL, since)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        log.warning("cannot read ingest_days; planning without it", error=type(exc).__name__)
        return None
    return {r["day"] for r in rows}


async def open_pool(
    dsn: str, without: str = "the scheduler will not fill missing days"
) -> asyncpg.Pool | None:
    """A small pool on ``ingest_days``' database, or ``None`` (logged: what goes ``without`` it)."""
    try:
        return await create_pool(dsn, application_name="ingest", max_size=2)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        log.warning(f"database unavailable; {without}", error=type(exc).__name__)
        return None


@dataclass
class PassResult:
    """What one scheduler pass did: the days it planned (newest first) and those that failed."""

    planned: list[dt.date]
    failed: list[dt.date] = field(default_factory=list)

    @property
    def done(self) -> list[dt.date]:
        failed = set(self.failed)
        return [day for day in self.planned if day not in failed]


async def scheduled_pass(
    out: Outlet,
    source: Source,
    settings: IngestSettings,
    metrics: IngestMetrics,
    redis: Redis,
    pool: asyncpg.Pool | None,
    now: dt.datetime | None = None,
    *,
    lock_wait_s: float = 0.0,
    show_progress: bool = False,
    poll_s: float = 1.0,
) -> PassResult | None:
    """One scheduler pass under the lock; ``None`` when another pass holds it (for ``lock_wait_s``)
    or a backfill does not hand it over within ``INGEST_BACKFILL_YIELD_S``.

    A day that fails is logged and the pass goes on with the next; the result lists it as failed.
    """
    key = lock_key(settings.redis_prefix)
    lock = RedisLock(redis, key, settings.ingest_lock_ttl_s, holder="pass")
    if lock_wait_s > 0 and await lock.holder() == "pass":
        log.info("another pass holds the ingest lock; waiting for it", wait_s=lock_wait_s)
    try:
        taken = await take_for_pass(
            lock,
            PassRequest(redis, key),
            wait_s=lock_wait_s,
            backfill_wait_s=settings.ingest_backfill_yield_s,
            poll_s=poll_s,
        )
    except BaseException:  # cancelled while the lock was being taken: it may be ours already
        with contextlib.suppress(Exception):
            await lock.release()  # only ours: the token is checked
        raise
    if not taken:
        log.info("another pass holds the ingest lock; skipping this pass", waited_s=lock_wait_s)
        return None
    renewer = asyncio.create_task(
        keep_renewing(lock, settings.ingest_lock_ttl_s / 3), name="ingest-lock-renewer"
    )
    try:
        when = now or dt.datetime.now(dt.UTC)
        window = settings.gap_days
        since = when.date() - dt.timedelta(days=window + 1)
        result = PassResult(
            plan_days(
                when,
                gap_days=window,
                resettle_days=settings.ingest_resettle_days,
                complete=await complete_days(pool, since),
            )
        )
        days = result.planned
        log.info(
            "ingest pass planned", days=len(days), newest=days[0].isoformat(), oldest=days[-1].isoformat()
        )
        with tqdm(total=len(days), desc="days", unit="day", disable=not show_progress) as bar:
            for day in days:
                try:
                    await ingest_day(out, source, day, settings, metrics)
                except Exception:
                    log.exception("ingest of a day failed; continuing with the next", day=day.isoformat())
                    result.failed.append(day)
                bar.update(1)
                bar.set_postfix(day=day.isoformat(), failed=len(result.failed))
    finally:
        await stop_task(renewer, RENEWER_STOP_S)
        with contextlib.suppress(Exception):
            await lock.release()
    log.info("ingest pass done", days=len(result.planned), failed=len(result.failed))
    return result
