"""Wiring of the aggregator worker: ``serve`` and ``replay --start D --end D``.

Owns opening and closing the resources (NATS, PostgreSQL, Redis, the ops server), signal handling
and the command line. Everything that decides something lives in the other modules.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from nats.aio.client import Client as NatsClient
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from tqdm import tqdm

from services.aggregator.config import AggregatorSettings
from services.aggregator.consumer import Consumer, Processor
from services.aggregator.metrics import AggregatorMetrics
from services.aggregator.replay import count_day, days_between, replay
from shared.config import load_settings
from shared.db.pool import create_pool
from shared.events import Subjects
from shared.logging import configure_logging, get_logger
from shared.messaging import StreamPolicy, connect, ensure_streams
from shared.web import OpsServer

log = get_logger(__name__)

LAST_COMPLETE_DAY = "SELECT max(day) FROM ingest_days"


@dataclass
class Resources:
    nc: NatsClient
    pool: asyncpg.Pool
    redis: Redis
    processor: Processor
    registry: CollectorRegistry


async def _create_pool_retrying(settings: AggregatorSettings, stop: asyncio.Event | None) -> asyncpg.Pool:
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
            if stop is not None and stop.is_set():
                raise
            log.warning("database unavailable", error=type(exc).__name__, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


@asynccontextmanager
async def resources(
    settings: AggregatorSettings, stop: asyncio.Event | None = None
) -> AsyncIterator[Resources]:
    subjects = Subjects(settings.namespace)
    nc = await connect(settings.nats_url, name="aggregator")
    try:
        js = nc.jetstream(timeout=10.0)
        await ensure_streams(js, subjects, StreamPolicy(retention_days=settings.retention_days))
        pool = await _create_pool_retrying(settings, stop)
        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        registry = CollectorRegistry()
        metrics = AggregatorMetrics(registry)
        try:
            metrics.set_last_complete_day(await pool.fetchval(LAST_COMPLETE_DAY))
            processor = Processor(pool, redis, js, subjects, settings, metrics)
            yield Resources(nc, pool, redis, processor, registry)
        finally:
            await redis.aclose()
            await pool.close()
    finally:
        await _close_nats(nc)


async def _close_nats(nc: NatsClient) -> None:
    """Drain when connected (bounded); a client still reconnecting is just closed."""
    try:
        if nc.is_connected:
            await asyncio.wait_for(nc.drain(), 5.0)
    except Exception as exc:
        log.info("nats drain failed", error=type(exc).__name__)
    if not nc.is_closed:
        try:
            await asyncio.wait_for(nc.close(), 5.0)
        except Exception as exc:  # a broken transport raises on close; we are leaving anyway
            log.info("nats close failed", error=type(exc).__name__)


async def serve(settings: AggregatorSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with resources(settings, stop) as res:

        async def nats_ok() -> None:
            if not res.nc.is_connected:
                raise ConnectionError("not connected")
            await res.nc.flush(timeout=1)

        ops = OpsServer(
            res.registry,
            {"database": lambda: res.pool.fetchval("SELECT 1"), "nats": nats_ok, "redis": res.redis.ping},
            settings.ops_host,
            settings.ops_port,
        )
        await ops.start()
        try:
            await Consumer(res.processor).run(stop)
        finally:
            await ops.stop()
    log.info("aggregator stopped")


async def run_replay(settings: AggregatorSettings, start: dt.date, end: dt.date, show_progress: bool) -> int:
    days = days_between(start, end)
    async with resources(settings) as res:
        total = 0
        for day in days:
            total += await count_day(res.processor, day)
        with tqdm(total=total, unit="msg", desc="replay", disable=not show_progress) as bar:
            result = await replay(res.processor, start, end, progress=bar.update)
    if result.incomplete:
        log.warning("days left incomplete", days=[str(d) for d in result.incomplete])
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.aggregator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="consume the downloads stream and maintain the rollups")
    rep = commands.add_parser("replay", help="rebuild the rollups of retained days from the stream")
    rep.add_argument("--start", type=dt.date.fromisoformat, required=True, help="first day, YYYY-MM-DD")
    rep.add_argument("--end", type=dt.date.fromisoformat, required=True, help="last day, YYYY-MM-DD")
    rep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
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
    if args.command == "replay" and args.end < args.start:
        parser.error("--end is before --start")
    settings = load_settings(AggregatorSettings)
    configure_logging(settings.log_level, settings.json_logs)
    logging.getLogger("nats.aio.client").addFilter(_NoTraceback())
    if args.command == "serve":
        asyncio.run(serve(settings))
        return 0
    return asyncio.run(run_replay(settings, args.start, args.end, not args.no_progress))
