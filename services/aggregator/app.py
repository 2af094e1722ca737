"""Wiring of the aggregator worker: ``serve``, ``replay --start D --end D``, ``compact`` and
``export --start D --end D``.

Owns opening and closing the resources (the FastStream broker, PostgreSQL, Redis, the ops server),
the FastStream app that runs ``serve`` (signals, graceful shutdown) and the command line.
Everything that decides something lives in the other modules.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from faststream import FastStream
from faststream.nats import NatsBroker
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from tqdm import tqdm

from services.aggregator.channels import AggregatorChannels, aggregator_channels
from services.aggregator.config import AggregatorSettings
from services.aggregator.consumer import BatchHandler, Outlets, Processor
from services.aggregator.exporter import complete_days, export_day
from services.aggregator.metrics import AggregatorMetrics
from services.aggregator.replay import count_day, days_between, replay
from shared.config import load_settings
from shared.db.compaction import Compacted, compact_due, months_due
from shared.db.layout import Dictionary
from shared.db.pool import create_pool
from shared.events import Subjects
from shared.logging import configure_logging, get_logger
from shared.messaging import (
    connect_broker,
    ensure_streams,
    events_logger,
    jetstream,
    make_broker,
    policy_of,
    retry_of,
)
from shared.web import OpsServer

log = get_logger(__name__)

LAST_COMPLETE_DAY = "SELECT max(day) FROM ingest_days"


@dataclass
class Resources:
    broker: NatsBroker
    channels: AggregatorChannels
    pool: asyncpg.Pool
    redis: Redis
    processor: Processor
    registry: CollectorRegistry


async def _create_pool_retrying(settings: AggregatorSettings) -> asyncpg.Pool:
    """PostgreSQL may come up after us: keep trying (with a growing delay) until it answers."""
    delay = 0.2
    while True:
        try:
            return await create_pool(
                settings.database_url,
                application_name="aggregator",
                min_size=1,
                max_size=settings.db_pool_size,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("database unavailable", error=type(exc).__name__, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


@asynccontextmanager
async def resources(settings: AggregatorSettings) -> AsyncIterator[Resources]:
    """The broker (connected, streams ensured, not yet fetching), PostgreSQL, Redis, the processor."""
    subjects = Subjects(settings.namespace)
    channels = aggregator_channels(subjects, settings)
    broker = make_broker(settings.nats_url, name="aggregator", graceful_timeout=settings.ack_wait)
    broker.include_router(channels.router)
    js = await connect_broker(broker)
    try:
        await ensure_streams(js, subjects, policy_of(settings), retry_of(settings))
        pool = await _create_pool_retrying(settings)
        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        registry = CollectorRegistry()
        metrics = AggregatorMetrics(registry)
        try:
            metrics.set_last_complete_day(await pool.fetchval(LAST_COMPLETE_DAY))
            outlets = Outlets(channels.rollups, channels.dead)
            processor = Processor(pool, redis, outlets, subjects, settings, metrics, retry_of(settings))
            yield Resources(broker, channels, pool, redis, processor, registry)
        finally:
            await redis.aclose()
            await pool.close()
    finally:
        await _stop_broker(broker)


async def _stop_broker(broker: NatsBroker) -> None:
    """Stop (drain) within a bound; a client still reconnecting to a dead server is just dropped."""
    try:
        await asyncio.wait_for(broker.stop(), 10.0)
    except Exception as exc:  # a broken transport raises on close; we are leaving anyway
        log.info("nats close failed", error=type(exc).__name__)


def create_app(settings: AggregatorSettings, res: Resources) -> FastStream:
    """The FastStream app of ``serve``: FastStream starts the subscriber, handles SIGTERM/SIGINT
    and stops gracefully; the hooks add the ops server, the idle tick and the write drain."""
    handler = BatchHandler(res.processor)
    res.channels.handler = handler
    broker = res.broker

    async def nats_ready() -> None:
        if not await broker.ping(timeout=1.0):
            raise ConnectionError("not connected")

    ops = OpsServer(
        res.registry,
        {"database": lambda: res.pool.fetchval("SELECT 1"), "nats": nats_ready, "redis": res.redis.ping},
        settings.ops_host,
        settings.ops_port,
    )
    ticks: list[asyncio.Task[None]] = []

    async def started() -> None:
        await ops.start()
        ticks.append(asyncio.create_task(_tick(handler, settings.fetch_timeout), name="aggregator-idle"))
        if res.processor.exports is not None:
            res.processor.exports.wake()  # days a crash left unexported
        log.info("consuming", stream=res.processor.subjects.downloads_stream)

    async def stopping() -> None:
        # No new fetch; FastStream waits for the batch being handled. Then the writes still in
        # flight commit and ack while the connection is open (what is not acked comes back).
        await res.channels.subscriber.stop()
        for task in ticks:
            task.cancel()
        await handler.drain()
        await res.processor.close()

    return FastStream(
        broker,
        logger=events_logger(),
        after_startup=[started],
        on_shutdown=[stopping],
        after_shutdown=[ops.stop],
    )


async def _tick(handler: BatchHandler, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await handler.idle()
        except Exception as exc:
            log.warning("idle work failed", error=type(exc).__name__)


async def serve(settings: AggregatorSettings) -> None:
    async with resources(settings) as res:
        await create_app(settings, res).run()
    log.info("aggregator stopped")


async def run_replay(settings: AggregatorSettings, start: dt.date, end: dt.date, show_progress: bool) -> int:
    days = days_between(start, end)
    async with resources(settings) as res:
        js = jetstream(res.broker)
        total = 0
        for day in days:
            total += await count_day(res.processor, js, day)
        with tqdm(total=total, unit="msg", desc="replay", disable=not show_progress) as bar:
            result = await replay(res.processor, js, start, end, progress=bar.update)
        if res.processor.exports is not None:  # the replayed days' files, before leaving
            await res.processor.exports.drain()
    if result.incomplete:
        log.warning("days left incomplete", days=[str(d) for d in result.incomplete])
        return 1
    return 0


async def run_compact(settings: AggregatorSettings, show_progress: bool) -> int:
    """Compact every due month now (what the aggregator does when idle); safe beside a running
    aggregator and after a crash at any point (shared/db/compaction.py)."""
    pool = await create_pool(
        settings.database_url, application_name="aggregator-compact", min_size=1, max_size=2
    )
    try:
        anchor: dt.date | None = await pool.fetchval(LAST_COMPLETE_DAY)
        if anchor is None:
            log.info("nothing to compact: no day is complete")
            return 0
        due = await months_due(pool, anchor)
        with tqdm(total=len(due), unit="month", desc="compact", disable=not show_progress) as bar:

            def step(done: Compacted) -> None:
                bar.update(1)
                bar.set_postfix(
                    month=done.month.isoformat()[:7], package_days=done.package_days, refresh=False
                )

            done = await compact_due(pool, anchor, batch=settings.compact_batch_packages, progress=step)
    finally:
        await pool.close()
    log.info("compaction done", months=len(done), package_days=sum(c.package_days for c in done))
    return 0


async def run_export(
    settings: AggregatorSettings, start: dt.date, end: dt.date, show_progress: bool, *, missing_only: bool
) -> int:
    """(Re)write the bulk exports of the complete days of ``start..end`` (newest first): open days
    and days of compacted months alike. Safe beside a running aggregator (exporter.py)."""
    if settings.export_dir is None:
        log.error("EXPORT_DIR is not set: nowhere to export to")
        return 2
    pool = await create_pool(
        settings.database_url, application_name="aggregator-export", min_size=1, max_size=2
    )
    names = Dictionary()
    written = rows = 0
    try:
        days = await complete_days(pool, start, end)
        with tqdm(total=len(days), unit="day", desc="export", disable=not show_progress) as bar:
            for day in days:
                done = await export_day(pool, names, settings.export_dir, day, force=not missing_only)
                if done is not None:
                    written += 1
                    rows += done.rows
                    bar.set_postfix(day=day.isoformat(), rows=done.rows, refresh=False)
                bar.update(1)
    finally:
        await pool.close()
    log.info("export done", days=len(days), written=written, rows=rows, directory=str(settings.export_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.aggregator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="consume the downloads stream and maintain the rollups")
    rep = commands.add_parser("replay", help="rebuild the rollups of retained days from the stream")
    rep.add_argument("--start", type=dt.date.fromisoformat, required=True, help="first day, YYYY-MM-DD")
    rep.add_argument("--end", type=dt.date.fromisoformat, required=True, help="last day, YYYY-MM-DD")
    rep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    comp = commands.add_parser(
        "compact", help="fold every closed month of open package-days into its compacted rows now"
    )
    comp.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    exp = commands.add_parser(
        "export", help="(re)write the bulk export files (EXPORT_DIR) of the complete days of a range"
    )
    exp.add_argument("--start", type=dt.date.fromisoformat, required=True, help="first day, YYYY-MM-DD")
    exp.add_argument("--end", type=dt.date.fromisoformat, required=True, help="last day, YYYY-MM-DD")
    exp.add_argument(
        "--missing-only", action="store_true", help="skip days whose files already hold their completion"
    )
    exp.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


class _NoTraceback(logging.Filter):
    """nats-py logs every failed reconnect with a traceback; keep the line, drop the costly trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.msg}: {type(record.exc_info[1]).__name__}"
            record.exc_info = None
        return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("replay", "export") and args.end < args.start:
        parser.error("--end is before --start")
    settings = load_settings(AggregatorSettings)
    configure_logging(settings.log_level, settings.json_logs)
    logging.getLogger("nats.aio.client").addFilter(_NoTraceback())
    if args.command == "serve":
        asyncio.run(serve(settings))
        return 0
    if args.command == "compact":
        return asyncio.run(run_compact(settings, not args.no_progress))
    if args.command == "export":
        return asyncio.run(
            run_export(settings, args.start, args.end, not args.no_progress, missing_only=args.missing_only)
        )
    return asyncio.run(run_replay(settings, args.start, args.end, not args.no_progress))
