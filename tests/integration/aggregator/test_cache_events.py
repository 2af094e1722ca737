"""rollups.updated reaches api and web at once: the next answer after a completed day shows it.

The aggregator runs in-process (its FastStream subscriber and publishers); the API and the web
site run in-process as well, with their Redis re-read timer set to an hour, so only the event can
tell them that the cache version moved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from nats.js import JetStreamContext
from redis.asyncio import Redis

from services.api.app import create_app as create_api
from services.api.config import ApiSettings
from services.api.views import STATE
from services.web.app import create_app as create_web
from services.web.config import WebSettings
from services.web.views import PAGE_CACHE
from shared.cache import CacheKeys, get_cache_version
from shared.events import Subjects
from shared.listen import LISTENER
from tests.integration.aggregator.helpers import completed_run, make_day, publish_run, running_consumer
from tests.support.wait import wait_until

DAY = dt.date(2024, 3, 10)
NEXT = DAY + dt.timedelta(days=1)
AN_HOUR = 3600.0
PACKAGE = "pkg-00003"


@pytest.fixture
async def clients(
    database_url: str, redis_url: str, nats_url: str, namespace: str
) -> AsyncIterator[tuple[TestClient, TestClient]]:
    common = {
        "env": "test", "database_url": database_url, "redis_url": redis_url, "nats_url": nats_url,
        "namespace": namespace, "cache_version_refresh_seconds": AN_HOUR,
    }  # fmt: skip
    api = TestClient(TestServer(create_api(ApiSettings(**common))))  # type: ignore[arg-type]
    web = TestClient(
        TestServer(
            create_web(WebSettings(**common, pypi_url="http://127.0.0.1:9", pypi_timeout=0.2))  # type: ignore[arg-type]
        )
    )
    await api.start_server()
    await web.start_server()
    try:
        yield api, web
    finally:
        await web.close()
        await api.close()


async def test_a_completed_day_is_in_the_very_next_api_and_page_answer(
    new_processor,  # type: ignore[no-untyped-def]
    db: asyncpg.Pool,
    redis: Redis,
    js: JetStreamContext,
    subjects: Subjects,
    clients: tuple[TestClient, TestClient],
) -> None:
    api, web = clients
    processor = new_processor(batch_size=100)
    first = make_day(DAY, 20, "run-1")
    second = make_day(NEXT, 20, "run-2", seed=5, scale=7)
    keys = CacheKeys(f"{subjects.namespace}:")
    for client in (api, web):
        await wait_until(lambda c=client: _listening(c), what="the service to listen to rollups.updated")
    async with running_consumer(processor):
        await publish_run(js, subjects, first)
        await wait_until(lambda: completed_run(db, DAY), what="the first day")
        await wait_until(
            lambda: _seen(api, web, redis, keys, db), what="api and web to learn the first version"
        )
        first_version = await get_cache_version(redis, keys)
        recent = f"/api/packages/{PACKAGE}/recent?period=day"
        before = await (await api.get(recent)).json()
        assert before["data"]["last_day"] == first[3].counts.overall["without_mirrors"]
        assert f"Data through {DAY.isoformat()}" in await (await web.get(f"/packages/{PACKAGE}")).text()
        assert (await api.get(recent)).headers["ETag"]  # cached now, in process and in Redis

        await publish_run(js, subjects, second)
        await wait_until(lambda: completed_run(db, NEXT), what="the next day")
        # Only rollups.updated can move the versions the two services hold: their timers are an hour.
        await wait_until(
            lambda: _seen(api, web, redis, keys, db, newer_than=first_version),
            timeout=10,
            what="rollups.updated in api and web",
        )
        after = await (await api.get(recent)).json()
        page = await (await web.get(f"/packages/{PACKAGE}")).text()
    assert (
        after["data"]["last_day"] == second[3].counts.overall["without_mirrors"] != before["data"]["last_day"]
    )
    assert f"Data through {NEXT.isoformat()}" in page


async def _listening(client: TestClient) -> bool:
    return client.server.app[LISTENER].running.is_set()


async def _seen(
    api: TestClient, web: TestClient, redis: Redis, keys: CacheKeys, db: asyncpg.Pool, newer_than: int = 0
) -> bool:
    """Both services hold the current version, and no recent rebuild is still owed (a deferred one
    bumps the version once more, and announces it as well)."""
    if await db.fetchval("SELECT stale FROM recent_state"):
        return False
    version = await get_cache_version(redis, keys)
    held_by_api = api.server.app[STATE].cache.watcher.current
    known = web.server.app[PAGE_CACHE].known
    held_by_web = known.current if known is not None else None
    return (
        version > newer_than
        and held_by_api is not None
        and held_by_api.number == version
        and held_by_web is not None
        and held_by_web.number == version
    )
