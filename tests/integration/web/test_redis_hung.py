"""A hung Redis (stopped with SIGSTOP: connections accepted, nothing answered) costs the web site
one timeout, then pages are served without it until it answers again.

Before the shared Redis gate, every page paid the client's 2 s socket timeout once per Redis
command it made: ``/`` 2 s, a package page 4 s (page cache and PyPI cache), on every request.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from services.web.app import create_app
from services.web.config import WebSettings
from shared.sessions import COOKIE_NAME
from tests.integration.web.conftest import END, OPENAPI
from tests.integration.web.test_sessions_cache import login
from tests.support.hung_redis import StoppableRedis, stoppable_redis
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
#: shared.web.redis_ctx's socket timeout: what one Redis command costs while Redis hangs.
REDIS_TIMEOUT_S = 2.0
PAGES = ("/", "/packages/requests", "/top", "/search/req", "/compare?packages=requests,django", "/api")


@pytest.fixture
def private_redis() -> Iterator[StoppableRedis]:
    with stoppable_redis() as server:
        yield server


async def timed_get(client: TestClient, path: str, cookie: str) -> tuple[float, str]:
    started = time.monotonic()
    response = await client.get(path, cookies={COOKIE_NAME: cookie})
    body = await response.text()
    assert response.status == 200, (path, body[:300])
    return time.monotonic() - started, body


async def redis_up(client: TestClient) -> float:
    metrics = await (await client.get("/metrics")).text()
    (line,) = [line for line in metrics.splitlines() if line.startswith("pypistats_web_redis_up ")]
    return float(line.split()[1])


async def test_a_hung_redis_costs_one_timeout_then_pages_skip_it_until_it_answers(
    web_settings: WebSettings, seeded: dt.date, db: asyncpg.Pool, private_redis: StoppableRedis
) -> None:
    settings = web_settings.model_copy(update={"redis_url": private_redis.url})
    direct = Redis.from_url(private_redis.url)
    try:
        _, cookie = await login(db, direct, settings, "dora", ["requests"])
    finally:
        await direct.aclose()
    async with TestClient(TestServer(create_app(settings, openapi_document=OPENAPI))) as client:
        for path in PAGES:  # fills the page and PyPI caches; the visitor is logged in
            _, html = await timed_get(client, path, cookie)
            assert "dora" in html
        assert await redis_up(client) == 1

        private_redis.hang()
        first, html = await timed_get(client, "/", cookie)
        assert first >= REDIS_TIMEOUT_S * 0.9, first  # the one timeout: Redis was asked and hung
        assert f"Data through {END.isoformat()}" in html
        assert await redis_up(client) == 0

        took: dict[str, float] = {}
        for path in PAGES:
            took[path], html = await timed_get(client, path, cookie)
            assert f"Data through {END.isoformat()}" in html
            assert "dora" not in html  # sessions live in Redis: logged out, not slowed down
        assert max(took.values()) < REDIS_TIMEOUT_S / 2, took
        package = (await timed_get(client, "/packages/requests", cookie))[1]
        assert '<span class="num" id="last-day">139</span>' in package  # served from PostgreSQL

        private_redis.resume()

        async def logged_in_again() -> bool:
            return "dora" in (await timed_get(client, "/", cookie))[1]

        await wait_until(logged_in_again, timeout=30, interval=0.2, what="the session to be read again")
        assert await redis_up(client) == 1
        for path in PAGES:
            assert "dora" in (await timed_get(client, path, cookie))[1]
