"""PostgreSQL refusing connections and nats-server restarting mid-run: the day still lands exactly."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from services.ingest.channels import Outlet, connected
from services.ingest.publisher import publish_day
from services.ingest.sources.synthetic import SyntheticSource
from shared.db.migrate import migrate
from shared.embedded import free_port, start_nats
from shared.events import Subjects
from shared.messaging import StreamPolicy
from tests.reliability.support import (
    AggregatorProcess,
    aggregators,
    completed,
    expected,
    package_days,
    stored,
    with_all,
)
from tests.support.servers import Servers, unique_name, with_database
from tests.support.wait import wait_until

DAY = dt.date(2024, 7, 1)
pytestmark = pytest.mark.slow


@pytest.fixture
async def own_database(servers: Servers) -> AsyncIterator[str]:
    """A migrated database of its own, so refusing its connections disturbs no other test."""
    name = unique_name("pypistats_outage_")
    admin = await asyncpg.connect(servers.postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
        url = with_database(servers.postgres_url, name)
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_postgres_refusing_connections_for_a_while(
    outlet: Outlet,
    own_database: str,
    servers: Servers,
    js,
    subjects: Subjects,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    name = urlsplit(own_database).path.lstrip("/")
    source = SyntheticSource(2000, seed=21)
    proc = AggregatorProcess({**service_env, "DATABASE_URL": own_database}, tmp_path, BATCH_SIZE="50")
    admin = await asyncpg.connect(servers.postgres_url)
    try:
        with aggregators(proc):
            await wait_until(proc.ready, timeout=30, what="aggregator ready")
            run = await publish_day(outlet, source, DAY)
            async with _pool(own_database) as db:
                await wait_until(
                    lambda: _at_least(package_days(db, DAY), 300), timeout=30, what="part of the day"
                )
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            await wait_until(lambda: _not_ready(proc), timeout=30, what="/ready to report the database down")
            failures_before = await proc.metric("pypistats_aggregator_batch_duration_seconds_count")
            await wait_until(
                lambda: _metric_above(
                    proc, "pypistats_aggregator_batch_duration_seconds_count", failures_before
                ),
                timeout=30,
                what="batches to keep failing while the database is away",
            )
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            async with _pool(own_database) as db:
                await wait_until(
                    lambda: completed(db, DAY, run.run_id), timeout=60, what="the day to complete"
                )
                assert await stored(db, DAY) == with_all(expected(source.expected_rows(DAY)))
            assert await proc.ready()
        assert "batch write failed" in proc.log_text() or "manifest failed" in proc.log_text()
    finally:
        await admin.close()


async def test_nats_server_restart_mid_run(
    tmp_path: Path, db: asyncpg.Pool, subjects: Subjects, service_env: dict[str, str]
) -> None:
    port = free_port()
    nats = start_nats(tmp_path / "nats-data", port=port)
    url = f"nats://127.0.0.1:{port}"
    source = SyntheticSource(2000, seed=22)
    proc = AggregatorProcess({**service_env, "NATS_URL": url}, tmp_path, BATCH_SIZE="50")
    try:
        policy = StreamPolicy(retention_days=180)
        async with connected(url, subjects, policy, name="test-publisher") as (_, outlet):
            with aggregators(proc):
                await wait_until(proc.ready, timeout=30, what="aggregator ready")
                publishing = asyncio.create_task(publish_day(outlet, source, DAY))
                await wait_until(
                    lambda: _at_least(package_days(db, DAY), 300), timeout=30, what="part of the day"
                )
                nats.stop()
                assert not await db.fetchval("SELECT count(*) FROM ingest_days WHERE day = $1", DAY), (
                    "too late"
                )
                await wait_until(lambda: _not_ready(proc), timeout=30, what="/ready to report NATS down")
                nats = start_nats(tmp_path / "nats-data", port=port)
                run = await asyncio.wait_for(publishing, 120)
                await wait_until(
                    lambda: completed(db, DAY, run.run_id), timeout=60, what="the day to complete"
                )
                assert await proc.ready()
        assert await stored(db, DAY) == with_all(expected(source.expected_rows(DAY)))
    finally:
        nats.stop()


def _pool(url: str):  # type: ignore[no-untyped-def]
    return asyncpg.create_pool(url, min_size=1, max_size=2)


async def _at_least(awaitable, n: int) -> bool:  # type: ignore[no-untyped-def]
    return bool(await awaitable >= n)


async def _not_ready(proc: AggregatorProcess) -> bool:
    return not await proc.ready()


async def _metric_above(proc: AggregatorProcess, name: str, value: float) -> bool:
    return await proc.metric(name) > value
