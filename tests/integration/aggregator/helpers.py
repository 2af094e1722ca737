"""Test helpers for the aggregator: a small deterministic day, a publisher, row read-back.

The ingest service's SyntheticSource/publish_day are used where the pipeline matters; these
helpers publish hand-made package-days exactly like ingest does (``Nats-Msg-Id`` headers, the
manifest after every package-day), so tests can also craft corrected runs and bad messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from services.aggregator.channels import aggregator_channels
from services.aggregator.config import AggregatorSettings
from services.aggregator.consumer import BatchHandler, Outlets, Processor
from services.aggregator.metrics import AggregatorMetrics
from services.api.app import create_app
from services.api.config import ApiSettings
from services.ingest.channels import Outlet
from services.ingest.publisher import publish_day
from services.ingest.sources.raw import RawSource
from shared.events import Counts, DayManifest, PackageDay, Subjects
from shared.messaging import connect_broker, make_broker
from tests.support.wait import wait_until

Row = tuple[str, str, str, int]


def make_day(day: dt.date, packages: int, run_id: str, seed: int = 0, scale: int = 1) -> list[PackageDay]:
    """``packages`` package-days with varied, deterministic counts (``scale`` multiplies them)."""
    rng = random.Random(f"{seed}/{day}")
    events = []
    for i in range(packages):
        without = rng.randint(1, 500) * scale
        mirrors = rng.randint(0, 50) * scale
        py3 = rng.randint(0, without)
        counts = Counts(
            overall={"with_mirrors": without + mirrors, "without_mirrors": without},
            python_major={"3": py3, "2": without - py3},
            python_minor={"3.12": py3, "2.7": without - py3},
            system={"Linux": without // 2, "Windows": without - without // 2},
        )
        events.append(
            PackageDay(day=day, package=f"pkg-{i:05d}", counts=counts, run_id=run_id, source="test")
        )
    return events


def manifest_for(day: dt.date, run_id: str, events: list[PackageDay]) -> DayManifest:
    return DayManifest(
        day=day,
        run_id=run_id,
        packages=len(events),
        rows=sum(len(e.counts.rows()) for e in events),
        downloads_with_mirrors=sum(e.counts.overall.get("with_mirrors", 0) for e in events),
        source="test",
    )


async def publish(js: JetStreamContext, subjects: Subjects, events: Iterable[PackageDay]) -> int:
    futures = []
    count = 0
    for event in events:
        futures.append(
            await js.publish_async(
                subjects.daily(event.day), event.to_bytes(), headers={"Nats-Msg-Id": event.msg_id}
            )
        )
        count += 1
        if len(futures) >= 500:
            await asyncio.gather(*futures)
            futures.clear()
    await asyncio.gather(*futures)
    return count


async def publish_manifest(js: JetStreamContext, subjects: Subjects, manifest: DayManifest) -> None:
    await js.publish(
        subjects.manifest(manifest.day), manifest.to_bytes(), headers={"Nats-Msg-Id": manifest.msg_id}
    )


async def publish_run(js: JetStreamContext, subjects: Subjects, events: list[PackageDay]) -> DayManifest:
    """Every package-day of a run, then its manifest (as ingest does)."""
    await publish(js, subjects, events)
    manifest = manifest_for(events[0].day, events[0].run_id, events)
    await publish_manifest(js, subjects, manifest)
    return manifest


def expected_rows(events: Iterable[PackageDay]) -> set[Row]:
    return {(e.package, d, c, n) for e in events for d, c, n in e.counts.rows()}


def expected_all(events: Iterable[PackageDay]) -> set[Row]:
    totals: dict[tuple[str, str], int] = {}
    for e in events:
        for d, c, n in e.counts.rows():
            if d == "version":  # not in __all__
                continue
            totals[(d, c)] = totals.get((d, c), 0) + n
    return {("__all__", d, c, n) for (d, c), n in totals.items()}


async def stored_rows(db: asyncpg.Pool, day: dt.date, *, include_all: bool = False) -> set[Row]:
    rows = await db.fetch(
        "SELECT package, dimension, category, downloads FROM daily_downloads WHERE day = $1", day
    )
    return {tuple(r) for r in rows if include_all or r["package"] != "__all__"}  # type: ignore[misc]


async def completed_run(db: asyncpg.Pool, day: dt.date) -> str | None:
    value: str | None = await db.fetchval("SELECT run_id FROM ingest_days WHERE day = $1", day)
    return value


def settings_for(
    database_url: str, redis_url: str, nats_url: str, namespace: str, **extra: object
) -> AggregatorSettings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "redis_url": redis_url,
        "nats_url": nats_url,
        "namespace": namespace,
        "manifest_retry_delay": 0.2,
        "error_retry_delay": 0.2,
        "fetch_timeout": 0.3,
        "ops_port": 0,
    }
    values.update(extra)
    return AggregatorSettings(**values)  # type: ignore[arg-type]


def make_processor(
    db: asyncpg.Pool, redis: Redis, outlets: Outlets, subjects: Subjects, settings: AggregatorSettings
) -> Processor:
    return Processor(db, redis, outlets, subjects, settings, AggregatorMetrics(CollectorRegistry()))


@contextlib.asynccontextmanager
async def running_consumer(processor: Processor) -> AsyncIterator[BatchHandler]:
    """The aggregator's FastStream subscriber in this process (its own broker and connection),
    with the idle tick the service runs; stopped as the service stops it."""
    channels = aggregator_channels(processor.subjects, processor.settings)
    handler = channels.handler = BatchHandler(processor)
    broker = make_broker(processor.settings.nats_url, name="tests-aggregator", graceful_timeout=10)
    broker.include_router(channels.router)
    await connect_broker(broker)
    await broker.start()

    async def tick() -> None:
        while True:
            await asyncio.sleep(processor.settings.fetch_timeout)
            await handler.idle()

    ticking = asyncio.create_task(tick())
    try:
        yield handler
    finally:
        ticking.cancel()
        await channels.subscriber.stop()
        await asyncio.wait_for(handler.drain(), 10)
        await processor.close()
        await broker.stop()


def _copy_rows(folder: Path, files: Iterable[Path]) -> None:
    folder.mkdir()
    for i, path in enumerate(files):
        (folder / f"{i}.jsonl").write_text(path.read_text())


@contextlib.asynccontextmanager
async def api_over_raw_day(
    processor: Processor,
    outlet: Outlet,
    db: asyncpg.Pool,
    settings: ApiSettings,
    folder: Path,
    files: Iterable[Path],
    day: dt.date,
    packages: int,
) -> AsyncIterator[TestClient]:
    """The raw ``files`` (JSON-lines rows of one day) ingested through the raw source into NATS,
    aggregated by ``processor`` until ``day`` completes (``packages`` package-days published), and
    an API (``settings``) over the result, closed on exit."""
    _copy_rows(folder, files)
    async with running_consumer(processor):
        result = await publish_day(outlet, RawSource(folder), day)
        await wait_until(lambda: completed_run(db, day), what="the day to complete")
    assert result.packages == packages
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
