"""Fixtures that hand tests a real PostgreSQL, Redis and NATS JetStream, isolated per run.

Each run gets its own database (migrated once); each test gets a clean set of tables, its own
NATS namespace (streams and subjects) and its own Redis key prefix, so runs and tests never see
each other's data even when they share the machine's servers.

Also owns the end of the run's report: one line per group of skipped tests with its reason
(what a test needs from the machine is required through tests.support.environment), or
"no tests skipped".
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis

from services.ingest.channels import Outlet, connected
from shared.db.migrate import migrate
from shared.events import Subjects
from shared.messaging import StreamPolicy, connect, delete_streams, ensure_streams
from tests.support.servers import Servers, resolve_servers, unique_name, with_database

DATA_TABLES = (
    "downloads_days",
    "downloads_months",
    "downloads_all",
    "retention_state",
    "recent_downloads",
    "package_index",
    "ingest_days",
    "trend_days",
    "trend_days_done",
    "discovery_lists",
    "user_packages",
    "users",
)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    # Not under pytest's basetemp: pytest resets that folder to mode 0700 at every session start,
    # which locks out the unprivileged user the embedded PostgreSQL runs as when tests run as root.
    directory = Path(tempfile.mkdtemp(prefix="pypistats-test-"))
    found = resolve_servers(directory)
    try:
        yield found
    finally:
        found.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(servers: Servers) -> Iterator[str]:
    """A fresh, migrated database for this run, dropped at the end."""
    name = unique_name("pypistats_test_")

    async def create() -> None:
        admin = await asyncpg.connect(servers.postgres_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')  # name is generated above, not input
        finally:
            await admin.close()
        await migrate(with_database(servers.postgres_url, name))

    async def drop() -> None:
        admin = await asyncpg.connect(servers.postgres_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(create())
    try:
        yield with_database(servers.postgres_url, name)
    finally:
        asyncio.run(drop())


@pytest.fixture(scope="session")
def redis_url(servers: Servers) -> str:
    return servers.redis_url


@pytest.fixture(scope="session")
def nats_url(servers: Servers) -> str:
    return servers.nats_url


@pytest.fixture
def namespace() -> str:
    """A NATS namespace and Redis key prefix unique to this test."""
    return unique_name("t")


@pytest.fixture
def subjects(namespace: str) -> Subjects:
    return Subjects(namespace)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the run's database, with every data table emptied and partition dropped first."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    await pool.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " RESTART IDENTITY CASCADE")
    # and no year partition left behind by an earlier test (each test sees a fresh layout)
    await pool.execute("SELECT drop_year_partitions_before('downloads_months', 'infinity')")
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def redis(redis_url: str, namespace: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[NatsClient]:
    nc = await connect(nats_url, name="tests")
    try:
        yield nc
    finally:
        await nc.drain()


@pytest.fixture
async def js(nats_client: NatsClient, subjects: Subjects) -> AsyncIterator[JetStreamContext]:
    """JetStream with this test's streams created, deleted again afterwards."""
    context = nats_client.jetstream()
    await ensure_streams(context, subjects, StreamPolicy(retention_days=180))
    try:
        yield context
    finally:
        await delete_streams(context, subjects)


@pytest.fixture
def service_env(database_url: str, redis_url: str, nats_url: str, namespace: str) -> dict[str, str]:
    """Environment for starting a service as a subprocess against this test's servers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env.update(
        ENV="test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        NATS_URL=nats_url,
        NAMESPACE=namespace,
        LOG_FORMAT="json",
    )
    return env


@pytest.fixture
async def outlet(js: JetStreamContext, subjects: Subjects, nats_url: str) -> AsyncIterator[Outlet]:
    """Ingest's outlet (a connected FastStream broker) on this test's streams."""
    async with connected(nats_url, subjects, StreamPolicy(retention_days=180), name="tests-ingest") as (
        _,
        out,
    ):
        yield out


def skip_reason(report: pytest.TestReport) -> str:
    """The reason a skipped test's report gives, without pytest's "Skipped: " prefix."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List what did not run: one line per skip reason with how many tests it covers."""
    reasons = Counter(skip_reason(report) for report in terminalreporter.stats.get("skipped", []))
    terminalreporter.section("skipped tests", sep="-")
    if not reasons:
        terminalreporter.line("no tests skipped")
    for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0])):
        terminalreporter.line(f"skipped {count} test{'s' if count > 1 else ''}: {reason}")
