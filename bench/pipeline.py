"""Pipeline benchmark: rollup rows per second from the first publish to the last commit.

For each size N (synthetic packages in one day), against the servers at ``DATABASE_URL`` (a server
URL; the benchmark creates and drops its own database on it), ``NATS_URL`` and ``REDIS_URL``:

1. baseline, same run, same fresh database: a raw ``COPY`` of the day's package-days, packed
   beforehand (shared/db/layout.py), into ``downloads_days`` (the same table, indexes and
   columns the aggregator writes: ``cells``, ``details``, ``versions``), in rollup rows (non-zero
   package/dimension/category counts) per second;
2. the pipeline: an ``aggregator serve`` subprocess consumes while ``publish_day`` (the ingest
   publisher) publishes the day; the clock runs from the first publish until the day is recorded
   complete in ``ingest_days`` (its manifest processed: every package-day committed, ``__all__``,
   recent totals, index, statistics). Also reported: when the last package-day was committed
   (polled every 0.1 s) and the aggregator's peak RSS (psutil, sampled every 0.1 s).

It prints rows/s of both and the ratio pipeline / COPY. The stored rows are checked against the
synthetic source's expected rows (count and total downloads).

With ``--preloaded`` the day is published before the aggregator starts and the clock runs from the
aggregator being ready to the last commit: the aggregator's own rate, without the publisher
competing for the same two cores.

Usage: ``.venv/bin/python bench/pipeline.py [--sizes 10000,100000,200000] [--batch-size 1000] [--preloaded]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import psutil

from services.ingest.channels import connected
from services.ingest.publisher import RunResult, publish_day
from services.ingest.sources.synthetic import SyntheticSource
from shared.db.layout import Dictionary, Runs, categories_of, encode
from shared.db.migrate import migrate
from shared.embedded import free_port
from shared.events import Subjects
from shared.messaging import StreamPolicy, delete_streams

DAY = dt.date(2024, 3, 4)
#: What the aggregator writes of a package-day (services/aggregator/store.py UPSERT): every array.
COPY_COLUMNS = (
    "seq", "with_mirrors", "without_mirrors", "day", "run", "package", "cells", "details", "versions"
)  # fmt: skip
ROOT = Path(__file__).resolve().parents[1]


def with_database(url: str, name: str) -> str:
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


async def copy_baseline(url: str, source: SyntheticSource) -> tuple[int, float]:
    """Raw COPY of the day's packed package-days; returns (rollup rows, seconds)."""
    by_package: dict[str, list[tuple[str, str, int]]] = {}
    for package, dimension, category, downloads in source.expected_rows(DAY):
        by_package.setdefault(package, []).append((dimension, category, downloads))
    conn = await asyncpg.connect(url)
    try:
        ids = await Dictionary().ids(conn, {k for rows in by_package.values() for k in categories_of(rows)})
        run = await Runs().id(conn, "baseline")
        packed = {package: encode(rows, ids) for package, rows in by_package.items()}
        records = [
            (0, p.with_mirrors, p.without_mirrors, DAY, run, package, p.cells, p.details, p.versions)
            for package, p in packed.items()
        ]
        started = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("downloads_days", records=records, columns=COPY_COLUMNS)
        seconds = time.perf_counter() - started
        await conn.execute("TRUNCATE downloads_days")
    finally:
        await conn.close()
    return sum(p.rows for p in packed.values()), seconds


def spawn(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "services.aggregator", "serve"], env=env, cwd=ROOT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(30)


async def ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("aggregator exited during start-up")
            try:
                async with client.get(f"http://127.0.0.1:{port}/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def run_size(args: argparse.Namespace, packages: int) -> dict[str, float]:
    source = SyntheticSource(packages, seed=7)
    name = f"bench_pipeline_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
    url = with_database(args.database_url, name)
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    subjects = Subjects(namespace)
    stack = contextlib.AsyncExitStack()
    policy = StreamPolicy(retention_days=180)
    _broker, outlet = await stack.enter_async_context(
        connected(args.nats_url, subjects, policy, name="bench-pipeline")
    )
    js = outlet.js
    proc: subprocess.Popen[bytes] | None = None
    try:
        await migrate(url)
        copy_rows, copy_seconds = await copy_baseline(url, source)
        port = free_port()
        env = {
            **os.environ, "DATABASE_URL": url, "NATS_URL": args.nats_url, "REDIS_URL": args.redis_url,
            "NAMESPACE": namespace, "OPS_PORT": str(port), "OPS_HOST": "127.0.0.1",
            "BATCH_SIZE": str(args.batch_size), "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        if args.preloaded:  # the day is in the stream before the aggregator starts: its rate alone
            preloaded = await publish_day(outlet, source, DAY)
        proc = spawn(env)
        await ready(port, proc)
        watched = psutil.Process(proc.pid)
        peak_rss = watched.memory_info().rss
        db = await asyncpg.connect(url)
        started = time.perf_counter()
        if args.preloaded:
            publishing: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()
            publishing.set_result(preloaded)
        else:
            publishing = asyncio.ensure_future(publish_day(outlet, source, DAY))
        published_at = last_package_day_at = 0.0
        while True:
            peak_rss = max(peak_rss, watched.memory_info().rss)
            now = time.perf_counter() - started
            if publishing.done() and not published_at:
                published_at = now
                run = publishing.result()
            if not last_package_day_at and published_at:
                committed = await db.fetchval("SELECT count(*) FROM downloads_days WHERE day = $1", DAY)
                if committed >= run.packages:
                    last_package_day_at = now
            if published_at and await db.fetchval("SELECT count(*) FROM ingest_days WHERE day = $1", DAY):
                break
            if proc.poll() is not None:
                raise RuntimeError("aggregator exited during the run")
            await asyncio.sleep(0.1)
        total = time.perf_counter() - started
        stored = await db.fetchrow(
            "SELECT count(*) AS n, sum(downloads) AS d FROM daily_downloads WHERE day = $1 AND package <> '__all__'",
            DAY,
        )
        await db.close()
        want = sum(n for *_, n in source.expected_rows(DAY))
        if stored["n"] != copy_rows or stored["d"] != want:
            raise AssertionError(
                f"stored {stored['n']} rows / {stored['d']} downloads, expected {copy_rows} / {want}"
            )
        return {
            "packages": packages, "rows": copy_rows, "seconds": total, "rows_per_s": copy_rows / total,
            "copy_seconds": copy_seconds, "copy_rows_per_s": copy_rows / copy_seconds,
            "ratio": (copy_rows / total) / (copy_rows / copy_seconds), "published_at": published_at,
            "last_package_day_at": last_package_day_at or total, "peak_rss_mb": peak_rss / 2**20,
        }  # fmt: skip
    finally:
        if proc is not None:
            stop(proc)
        await delete_streams(js, subjects)
        await stack.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(args: argparse.Namespace) -> None:
    header = (
        f"{'packages':>9} {'rows':>9} {'pipeline s':>10} {'rows/s':>9} {'COPY s':>7} {'COPY rows/s':>11}"
        f" {'ratio':>5} {'published':>9} {'last pkg-day':>12} {'peak RSS MB':>11}"
    )
    lines = [header]
    for size in args.sizes:
        r = await run_size(args, size)
        lines.append(
            f"{r['packages']:>9.0f} {r['rows']:>9.0f} {r['seconds']:>10.1f} {r['rows_per_s']:>9.0f}"
            f" {r['copy_seconds']:>7.1f} {r['copy_rows_per_s']:>11.0f} {r['ratio']:>5.2f}"
            f" {r['published_at']:>9.1f} {r['last_package_day_at']:>12.1f} {r['peak_rss_mb']:>11.0f}"
        )
        sys.stdout.write(lines[-1] + "\n")
        sys.stdout.flush()
    sys.stdout.write("\n".join(lines) + "\n")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000", type=lambda s: [int(x) for x in s.split(",")],
                        help="comma-separated numbers of packages (default 10000)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--preloaded",
        action="store_true",
        help="publish the day first, then time the aggregator alone (from its start to the last commit)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
