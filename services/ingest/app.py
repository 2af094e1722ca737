"""The ingest service's entry point: ``run``, ``backfill``, ``first-day``, ``pass`` and ``serve``
(wiring only).

``python -m services.ingest run --day D [--source S] [--dry-run]`` ingests one day;
``backfill --start D|first [--end D] [--dry-run] [--max-usd X]`` ingests a range newest first
after a cost estimate, skipping complete days (resumable), with a progress bar; ``first-day``
prints the first day the source has; ``pass`` runs one scheduler pass and exits (what a CronJob
runs); ``serve`` runs the cron scheduler with the ops server (``/metrics``, ``/health``,
``/ready`` on ``OPS_PORT``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import signal
import sys
from collections.abc import Sequence
from typing import Literal

from prometheus_client import CollectorRegistry

from shared.config import load_settings
from shared.logging import configure_logging, get_logger
from shared.tasks import stop_task

from . import backfill
from .config import IngestSettings
from .metrics import IngestMetrics
from .runner import dry_run_day, ingest_day, make_source, open_pool, outlet, scheduled_pass
from .schedule import next_fire
from .sources.base import SourceError

log = get_logger("services.ingest")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from exc


FIRST: Literal["first"] = "first"


def _start(value: str) -> dt.date | Literal["first"]:
    if value == FIRST:
        return "first"
    return _date(value)


def _usd(value: str) -> float:
    try:
        amount = float(value)
    except ValueError:
        amount = -1.0
    if not amount >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"not an amount of USD: {value!r}")
    return amount


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.ingest", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="ingest one UTC day")
    run.add_argument("--day", "--date", dest="day", type=_date, required=True, help="YYYY-MM-DD")
    run.add_argument("--source", choices=("bigquery", "raw", "synthetic"), help="overrides SOURCE")
    run.add_argument("--dry-run", action="store_true", help="report what would be read; publish nothing")
    fill = sub.add_parser(
        "backfill",
        help="ingest every day from --start to --end inclusive, newest first, after a cost estimate",
        description="Days already complete (ingest_days) are skipped, so running it again resumes it."
        " Every remaining day is dry-run first; the sum is printed in bytes and USD and refused above"
        " BACKFILL_MAX_USD unless --max-usd allows it. Exit status: 0 done; 1 a day failed or Redis is"
        " unreachable; 2 bad arguments or refused by the budget (nothing published).",
    )
    fill.add_argument(
        "--start", type=_start, required=True, metavar="YYYY-MM-DD|first",
        help="the oldest day, or 'first': the first day the source has (see the first-day command)",
    )  # fmt: skip
    fill.add_argument("--end", type=_date, help="the newest day (default: the last closed UTC day)")
    fill.add_argument("--source", choices=("bigquery", "raw", "synthetic"), help="overrides SOURCE")
    fill.add_argument("--dry-run", action="store_true", help="print the plan and the cost estimate only")
    fill.add_argument(
        "--max-usd", type=_usd, metavar="USD", help="the budget of this run (default BACKFILL_MAX_USD)"
    )
    fill.add_argument(
        "--include-complete", action="store_true",
        help="ingest the days already complete too (after a fix of the query); needs no database",
    )  # fmt: skip
    fill.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    first = sub.add_parser("first-day", help="print the first day the source has, as JSON")
    first.add_argument("--source", choices=("bigquery", "raw", "synthetic"), help="overrides SOURCE")
    one = sub.add_parser(
        "pass",
        help="one scheduler pass (last closed day, resettle days, missing days) under the lock, then exit",
        description="A backfill holding the lock hands it over after its current day (waited for up to"
        " INGEST_BACKFILL_YIELD_S). Exit status: 0 every planned day ingested; 1 a day failed (or Redis"
        " is unreachable); 3 another pass holds the lock (nothing done).",
    )
    one.add_argument("--source", choices=("bigquery", "raw", "synthetic"), help="overrides SOURCE")
    one.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a pass holding the lock to finish (default 0: give up at once)",
    )
    one.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sub.add_parser("serve", help="run the scheduler with /metrics, /health and /ready")
    fake = sub.add_parser("fake-bigquery", help="serve the local BigQuery REST stand-in (development)")
    fake.add_argument(
        "--rows", required=True, help="Parquet or JSON-lines file_downloads rows it answers from"
    )
    fake.add_argument("--port", type=int, required=True)
    fake.add_argument("--host", default="127.0.0.1")
    return parser


async def run_command(settings: IngestSettings, day: dt.date, source_name: str | None, dry_run: bool) -> int:
    metrics = IngestMetrics(CollectorRegistry())
    source = make_source(settings, metrics, source_name)
    if dry_run:
        report = await dry_run_day(source, day, metrics)
        log.info("dry run", **report)
        sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
        return 0
    async with outlet(settings) as (_broker, out):
        result = await ingest_day(out, source, day, settings, metrics)
    sys.stdout.write(
        json.dumps(
            {
                "day": day.isoformat(),
                "run_id": result.run_id,
                "packages": result.packages,
                "rows": result.rows,
                "skipped": result.skipped,
                "seconds": round(result.seconds, 3),
            },
            sort_keys=True,
        )
        + "\n"
    )
    return 0


async def first_day_command(settings: IngestSettings, source_name: str | None) -> int:
    source = make_source(settings, IngestMetrics(CollectorRegistry()), source_name)
    day = await backfill.first_day_of(source)
    sys.stdout.write(json.dumps({"first_day": day.isoformat(), "source": source.name}) + "\n")
    return 0


EXIT_DAY_FAILED = 1
EXIT_LOCK_HELD = 3


async def pass_command(
    settings: IngestSettings, source_name: str | None, lock_wait_s: float, progress: bool
) -> int:
    """One pass of the scheduler (the same :func:`scheduled_pass` ``serve`` runs on each tick)."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # release the lock
    metrics = IngestMetrics(CollectorRegistry())
    source = make_source(settings, metrics, source_name)
    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    pool = await open_pool(settings.database_url)
    try:
        async with outlet(settings) as (_broker, out):
            result = await scheduled_pass(
                out, source, settings, metrics, redis, pool,
                lock_wait_s=lock_wait_s, show_progress=progress,
            )  # fmt: skip
    except RedisError as exc:
        log.error("cannot take the ingest lock", error=f"{type(exc).__name__}: {exc}")
        return EXIT_DAY_FAILED
    finally:
        if pool is not None:
            await pool.close()
        await redis.aclose()
    if result is None:
        sys.stdout.write(json.dumps({"skipped": "another pass holds the ingest lock"}) + "\n")
        return EXIT_LOCK_HELD
    days = {
        "planned": [d.isoformat() for d in result.planned],
        "done": [d.isoformat() for d in result.done],
        "failed": [d.isoformat() for d in result.failed],
    }
    sys.stdout.write(json.dumps(days) + "\n")
    return EXIT_DAY_FAILED if result.failed else 0


#: How long a scheduler pass stopped by SIGTERM may take to release its lock and end.
PASS_STOP_S = 30.0


async def serve(settings: IngestSettings) -> None:
    from redis.asyncio import Redis  # only the scheduler needs Redis and the ops server

    from shared.web import OpsServer

    next_fire(settings.ingest_schedule, dt.datetime.now(dt.UTC))  # fail fast on a bad schedule
    metrics = IngestMetrics(CollectorRegistry())
    source = make_source(settings, metrics)
    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    pool = await open_pool(settings.database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with outlet(settings) as (broker, out):

        async def nats_ready() -> None:
            if not await broker.ping(timeout=1.0):
                raise ConnectionError("nats disconnected")

        ops = OpsServer(
            metrics.registry, {"nats": nats_ready, "redis": redis.ping}, settings.ops_host, settings.ops_port
        )
        await ops.start()
        try:
            first = settings.ingest_run_on_start
            while not stop.is_set():
                if not first:
                    now = dt.datetime.now(dt.UTC)
                    fire = next_fire(settings.ingest_schedule, now)
                    log.info("next ingest pass", at=fire.isoformat())
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), (fire - now).total_seconds())
                    if stop.is_set():
                        break
                first = False
                if pool is None:  # the database was down at start-up (or since): try again each pass
                    pool = await open_pool(settings.database_url)
                task = asyncio.create_task(scheduled_pass(out, source, settings, metrics, redis, pool))
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if not task.done():  # stopping: cancel until it ends (shared.tasks), within a bound
                    await stop_task(task, PASS_STOP_S)
                elif not task.cancelled() and (failure := task.exception()) is not None:
                    log.error("ingest pass failed", error=f"{type(failure).__name__}: {failure}")
        finally:
            await ops.stop()
            if pool is not None:
                await pool.close()
            await redis.aclose()
    log.info("ingest scheduler stopped")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings(IngestSettings)
    configure_logging(settings.log_level, settings.json_logs)
    try:
        if args.command == "run":
            return asyncio.run(run_command(settings, args.day, args.source, args.dry_run))
        if args.command == "backfill":
            return asyncio.run(
                backfill.command(
                    settings, args.start, args.end, source_name=args.source, dry_run=args.dry_run,
                    max_usd=args.max_usd, include_complete=args.include_complete, progress=not args.no_progress,
                )
            )  # fmt: skip
        if args.command == "first-day":
            return asyncio.run(first_day_command(settings, args.source))
        if args.command == "pass":
            return asyncio.run(pass_command(settings, args.source, args.lock_wait, not args.no_progress))
        if args.command == "fake-bigquery":
            from aiohttp import web

            from .fake_bigquery import from_rows

            stand_in = from_rows(args.rows)
            log.info("fake BigQuery serving", api_endpoint=f"http://{args.host}:{args.port}", rows=args.rows)
            web.run_app(stand_in.app(), host=args.host, port=args.port, print=None)
            return 0
        asyncio.run(serve(settings))
        return 0
    except (SourceError, ValueError) as exc:
        log.error("ingest failed", error=str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:  # SIGTERM during ``pass`` or ``backfill``: the lock was released
        log.warning(f"ingest {args.command} stopped by SIGTERM")
        return 143
