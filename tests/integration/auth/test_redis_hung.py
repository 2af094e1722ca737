"""Auth with a hung Redis (SIGSTOP): every endpoint needs Redis, so it refuses, but at once.

The first request pays the client's timeout and gets a JSON 503 (not a 500); the following ones
get the same 503 without asking Redis, until it answers again and logins work.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.auth.app import create_app
from services.auth.fake_github import FakeGitHub
from shared.embedded import free_port
from tests.integration.auth.conftest import make_settings
from tests.support.hung_redis import StoppableRedis, stoppable_redis
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
REDIS_TIMEOUT_S = 2.0  # shared.web.redis_ctx's socket timeout


@pytest.fixture
def private_redis() -> Iterator[StoppableRedis]:
    with stoppable_redis() as server:
        yield server


async def test_auth_answers_503_at_once_while_redis_hangs(
    db: asyncpg.Pool,
    database_url: str,
    namespace: str,
    fake_github: tuple[FakeGitHub, str],
    private_redis: StoppableRedis,
) -> None:
    port = free_port()
    settings = make_settings(database_url, private_redis.url, namespace, port, fake_github[1])
    async with TestClient(TestServer(create_app(settings), port=port)) as client:

        async def login_status() -> tuple[int, float, dict[str, str]]:
            started = time.monotonic()
            response = await client.get("/auth/login", allow_redirects=False)
            return response.status, time.monotonic() - started, dict(response.headers)

        assert (await login_status())[0] == 302
        private_redis.hang()
        status, first, _ = await login_status()
        assert status == 503 and first >= REDIS_TIMEOUT_S * 0.9
        for _ in range(3):
            status, took, headers = await login_status()
            assert status == 503 and took < REDIS_TIMEOUT_S / 2, took
            assert headers["Retry-After"] == "5" and headers["Content-Type"].startswith("application/json")
        me = await client.get("/auth/me", cookies={"pypistats_session": "x.y"})
        assert me.status == 503 and (await me.json())["error"]["status"] == 503
        metrics = await (await client.get("/metrics")).text()
        assert "pypistats_auth_redis_up 0.0" in metrics

        private_redis.resume()

        async def logins_work() -> bool:
            return (await login_status())[0] == 302

        await wait_until(logins_work, timeout=30, interval=0.2, what="logins to work again")
        metrics = await (await client.get("/metrics")).text()
        assert "pypistats_auth_redis_up 1.0" in metrics
