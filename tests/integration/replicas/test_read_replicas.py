"""api and web reading from a real streaming replica: no body built on a replica that has not
replayed the cache version's WAL position is ever cached under that version.

Each test writes a day on the primary and bumps the version (with the primary's WAL position,
as the aggregator does), reads it through the replica, then pauses replay on the replica
(``pg_wal_replay_pause()``), writes a newer day and bumps again. A reader then either waits
``REPLICA_WAIT_SECONDS`` and reads the primary (cached: it is fresh), or, with the primary
unreachable, serves the replica's answer without caching it. After ``pg_wal_replay_resume()``
the replica catches up and its answers are cached again. Only ``ingest_days``,
``package_index`` and ``recent_downloads`` are written, in plain SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from services.api.app import create_app as create_api
from services.api.config import ApiSettings
from services.api.views import STATE
from services.web.app import create_app as create_web
from services.web.config import WebSettings
from services.web.views import PAGE_CACHE
from shared.cache import CacheKeys, CacheVersion, bump_after_commit, read_cache_version
from shared.embedded import free_port
from tests.integration.replicas.conftest import DATABASE, Pair
from tests.support.wait import wait_until

DAY = dt.date(2026, 5, 1)
OLD = {"day": 31337, "week": 271828, "month": 1414213}
NEW = {"day": 74205, "week": 577215, "month": 2718281}
WAIT_S = 0.3

RESET = "TRUNCATE recent_downloads, package_index, ingest_days"
INSERT_PACKAGE = "INSERT INTO package_index (package, first_day, last_day) VALUES ('requests', $1, $1)"
INSERT_DAY = """
INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors)
VALUES ($1, $2, 'test', 1, 1, 1)
"""
UPSERT_RECENT = """
INSERT INTO recent_downloads (package, period, downloads) VALUES ('requests', $1, $2)
ON CONFLICT (package, period) DO UPDATE SET downloads = EXCLUDED.downloads
"""
RECENT_DAY = "SELECT downloads FROM recent_downloads WHERE package = 'requests' AND period = 'day'"
REPLAYED = "SELECT pg_last_wal_replay_lsn()"
PAUSE = "SELECT pg_wal_replay_pause()"
PAUSE_STATE = "SELECT pg_get_wal_replay_pause_state()"
RESUME = "SELECT pg_wal_replay_resume()"

Start = Callable[[web.Application], Awaitable[TestClient]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    clients: list[TestClient] = []

    async def run(app: web.Application) -> TestClient:
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield run
    for client in clients:
        await client.close()


@pytest.fixture
async def dbs(pair: Pair) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    """Connections to the primary and the replica; replay is resumed whatever the test did."""
    primary = await asyncpg.connect(pair.primary_url)
    replica = await asyncpg.connect(pair.replica_url)
    try:
        yield primary, replica
    finally:
        await replica.execute(RESUME)
        await replica.close()
        await primary.close()


def dead_primary(pair: Pair) -> str:
    """A DATABASE_URL nothing listens on: the primary is unreachable."""
    return f"postgresql://postgres@127.0.0.1:{free_port()}/{DATABASE}"


async def write_day(primary: asyncpg.Connection, day: dt.date, recent: dict[str, int]) -> None:
    async with primary.transaction():
        await primary.execute(INSERT_DAY, day, f"run-{day}")
        for period, downloads in recent.items():
            await primary.execute(UPSERT_RECENT, period, downloads)


async def publish(primary: asyncpg.Connection, redis: Redis, keys: CacheKeys) -> CacheVersion:
    """Bump the cache version after the commits, as the aggregator does."""
    await bump_after_commit(redis, keys, primary)
    version = await read_cache_version(redis, keys)
    assert version.lsn is not None
    return version


async def first_day(
    primary: asyncpg.Connection, replica: asyncpg.Connection, redis: Redis, keys: CacheKeys
) -> None:
    await primary.execute(RESET)
    await primary.execute(INSERT_PACKAGE, DAY)
    await write_day(primary, DAY, OLD)
    version = await publish(primary, redis, keys)
    await caught_up(replica, version)


async def caught_up(replica: asyncpg.Connection, version: CacheVersion) -> None:
    assert version.lsn is not None
    lsn = version.lsn

    async def replayed() -> bool:
        return bool(await replica.fetchval(REPLAYED) >= lsn)

    await wait_until(replayed, timeout=20, what="the replica to replay the version's WAL position")


async def pause(replica: asyncpg.Connection) -> None:
    await replica.execute(PAUSE)

    async def paused() -> bool:
        return bool(await replica.fetchval(PAUSE_STATE) == "paused")

    await wait_until(paused, timeout=20, what="replay to pause")


async def metric(client: TestClient, line_start: str) -> float:
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def get_json(client: TestClient, path: str) -> Any:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return await response.json()


async def get_text(client: TestClient, path: str) -> str:
    response = await client.get(path)
    body = await response.text()
    assert response.status == 200, body[:500]
    return body


async def stored(redis: Redis, pattern: str) -> list[bytes]:
    return [
        value for key in [k async for k in redis.scan_iter(match=pattern)] if (value := await redis.get(key))
    ]


def api_settings(pair: Pair, redis_url: str, namespace: str, **extra: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": pair.primary_url,
        "read_database_url": pair.replica_url,
        "redis_url": redis_url,
        "namespace": namespace,
        "db_pool_size": 2,
        "cache_version_refresh_seconds": 0.05,
        "replica_wait_seconds": WAIT_S,
        **extra,
    }
    return ApiSettings(**values)


def web_settings(pair: Pair, redis_url: str, namespace: str, **extra: Any) -> WebSettings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": pair.primary_url,
        "read_database_url": pair.replica_url,
        "redis_url": redis_url,
        "namespace": namespace,
        "pypi_url": f"http://127.0.0.1:{free_port()}",
        "replica_wait_seconds": WAIT_S,
        "cache_version_refresh_seconds": 0.05,
        **extra,
    }
    return WebSettings(**values)


API_READS = "pypistats_api_replica_reads_total"


async def test_api_caches_no_body_from_a_replica_behind_the_version(
    pair: Pair,
    dbs: tuple[asyncpg.Connection, asyncpg.Connection],
    redis: Redis,
    redis_url: str,
    namespace: str,
    start: Start,
) -> None:
    primary, replica = dbs
    keys = CacheKeys(f"{namespace}:")
    await first_day(primary, replica, redis, keys)
    api = await start(create_api(api_settings(pair, redis_url, namespace)))
    day_url = "/api/packages/requests/recent?period=day"
    assert (await get_json(api, day_url))["data"] == {"last_day": OLD["day"]}
    assert await metric(api, API_READS + '{target="replica"}') == 1

    await pause(replica)
    await write_day(primary, DAY + dt.timedelta(days=1), NEW)
    new = await publish(primary, redis, keys)
    assert await replica.fetchval(RECENT_DAY) == OLD["day"], "the replica must still show the old day"
    assert api.app is not None
    watcher = api.app[STATE].cache.watcher

    async def sees_new() -> bool:
        return watcher.current == new

    await wait_until(sees_new, timeout=10, what="the api to see the new cache version")

    # The replica stays behind for the whole wait: the body is built on the primary, and cached.
    assert (await get_json(api, day_url))["data"] == {"last_day": NEW["day"]}
    cached = await stored(redis, f"{namespace}:api:{new.key}:recent:requests:day")
    assert len(cached) == 1 and b'"last_day":74205' in cached[0]
    assert await metric(api, API_READS + '{target="primary"}') == 1
    assert await metric(api, 'pypistats_api_replica_waits_total{outcome="behind"}') == 1
    assert await metric(api, "pypistats_api_replica_lag_bytes") > 0

    # An api replica whose primary is unreachable answers from the replica, and caches nothing.
    lonely = await start(
        create_api(api_settings(pair, redis_url, namespace, database_url=dead_primary(pair)))
    )
    assert lonely.app is not None and lonely.app[STATE].cache.watcher.current == new
    status = await get_json(lonely, "/api/status")
    assert status["data"]["last_complete_day"] == DAY.isoformat()  # the replica's (stale) answer
    assert await stored(redis, f"{namespace}:api:{new.key}:status:*") == []
    assert len(lonely.app[STATE].cache.local) == 0
    assert await metric(lonely, API_READS + '{target="uncached"}') == 1

    # Replay resumes: the replica reaches the version's position and its answers are cached again.
    await replica.execute(RESUME)
    await caught_up(replica, new)
    status = await get_json(lonely, "/api/status")
    assert status["data"]["last_complete_day"] == (DAY + dt.timedelta(days=1)).isoformat()
    cached = await stored(redis, f"{namespace}:api:{new.key}:status:*")
    assert len(cached) == 1 and (DAY + dt.timedelta(days=1)).isoformat().encode() in cached[0]
    assert await metric(lonely, API_READS + '{target="replica"}') == 1
    week = await get_json(api, "/api/packages/requests/recent?period=week")
    assert week["data"] == {"last_week": NEW["week"]}
    assert await metric(api, API_READS + '{target="replica"}') == 2
    assert await metric(api, API_READS + '{target="primary"}') == 1


def page_payloads(values: list[bytes]) -> list[str]:
    return [json.loads(v)["html"] for v in values]


async def test_web_caches_no_fragment_from_a_replica_behind_the_version(
    pair: Pair,
    dbs: tuple[asyncpg.Connection, asyncpg.Connection],
    redis: Redis,
    redis_url: str,
    namespace: str,
    start: Start,
) -> None:
    primary, replica = dbs
    keys = CacheKeys(f"{namespace}:")
    await first_day(primary, replica, redis, keys)
    site = await start(create_web(web_settings(pair, redis_url, namespace)))
    assert "31,337" in await get_text(site, "/top")
    old = await read_cache_version(redis, keys)
    assert len(await stored(redis, f"{namespace}:web:page:v{old.key}:top:*")) == 1

    await pause(replica)
    await write_day(primary, DAY + dt.timedelta(days=1), NEW)
    new = await publish(primary, redis, keys)
    assert await replica.fetchval(RECENT_DAY) == OLD["day"], "the replica must still show the old day"
    known = site.app[PAGE_CACHE].known

    async def sees_new() -> bool:
        return known is not None and known.current == new

    await wait_until(sees_new, timeout=10, what="the web service to see the new cache version")

    # Behind for the whole wait: the fragment is built on the primary, and cached.
    html = await get_text(site, "/top")
    assert "74,205" in html and "31,337" not in html
    cached = page_payloads(await stored(redis, f"{namespace}:web:page:v{new.key}:top:*"))
    assert len(cached) == 1 and "74,205" in cached[0] and "31,337" not in cached[0]
    assert await metric(site, 'pypistats_web_replica_reads_total{target="primary"}') == 1

    # A web replica whose primary is unreachable serves the replica's page, and caches nothing.
    lonely = await start(
        create_web(web_settings(pair, redis_url, namespace, database_url=dead_primary(pair)))
    )
    assert "31,337" in await get_text(lonely, "/")
    assert await stored(redis, f"{namespace}:web:page:v{new.key}:home:*") == []
    assert await metric(lonely, 'pypistats_web_replica_reads_total{target="uncached"}') == 1

    # Replay resumes: the page is read on the replica again, fresh, and cached.
    await replica.execute(RESUME)
    await caught_up(replica, new)
    html = await get_text(lonely, "/")
    assert "74,205" in html and "31,337" not in html
    cached = page_payloads(await stored(redis, f"{namespace}:web:page:v{new.key}:home:*"))
    assert len(cached) == 1 and "74,205" in cached[0]
    assert await metric(lonely, 'pypistats_web_replica_reads_total{target="replica"}') == 1
