"""Fixtures of the api tests: seeded rollups and an in-process API on the test's servers."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from services.api.app import create_app
from services.api.config import ApiSettings
from tests.support.seed import package_rows, platform_rows, seed, with_all

END = dt.date(2026, 3, 31)
DAYS = 40
#: package -> base; day i (0 = oldest) has without_mirrors = base + i, with_mirrors = base + i + 10.
PACKAGES = {"requests": 1000, "my-package": 5}

ApiFactory = Callable[..., Awaitable[TestClient]]


def without_mirrors(package: str, day: dt.date) -> int:
    return PACKAGES[package] + DAYS - 1 - (END - day).days


def recent_expected(package: str) -> dict[str, int]:
    last = [without_mirrors(package, END - dt.timedelta(days=k)) for k in range(30)]
    return {"last_day": last[0], "last_week": sum(last[:7]), "last_month": sum(last)}


@pytest.fixture
async def seeded(db: asyncpg.Pool) -> asyncpg.Pool:
    rows = [r for p, base in PACKAGES.items() for r in package_rows(p, base, END, DAYS)]
    rows += platform_rows("requests", PACKAGES["requests"], END, DAYS)  # /platform and /abi
    await seed(db, with_all(rows))
    return db


@pytest.fixture
def settings_for(database_url: str, redis_url: str, namespace: str) -> Callable[..., ApiSettings]:
    def make(**overrides: Any) -> ApiSettings:
        values: dict[str, Any] = {
            "env": "test",
            "database_url": database_url,
            "redis_url": redis_url,
            "namespace": namespace,
            "db_pool_size": 4,
            **overrides,
        }
        return ApiSettings(**values)

    return make


@pytest.fixture
async def api_factory(settings_for: Callable[..., ApiSettings]) -> AsyncIterator[ApiFactory]:
    """Start an in-process API with setting overrides; several may run at once (replicas)."""
    clients: list[TestClient] = []

    async def start(**overrides: Any) -> TestClient:
        settings = settings_for(**overrides)
        server = TestServer(create_app(settings))
        # As in services.api.app.main: requests still running at shutdown get this long.
        await server.start_server(shutdown_timeout=settings.shutdown_timeout_seconds)
        client = TestClient(server)
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def api(seeded: asyncpg.Pool, redis: Redis, api_factory: ApiFactory) -> TestClient:
    return await api_factory()
