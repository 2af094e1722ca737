"""Fixtures for the auth service: a fake GitHub and the auth app on free ports in the test's loop.

The auth app talks to the fake GitHub over HTTP with the real authlib client; the test client
follows every redirect by hand with one cookie jar, like a browser would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from services.auth.app import create_app
from services.auth.config import AuthSettings
from services.auth.fake_github import FakeGitHub, create_fake_github
from shared.embedded import free_port
from shared.sessions import COOKIE_NAME
from tests.support.seed import package_rows, seed

SECRET = "test-session-secret-0123456789abcdef"
END = dt.date(2024, 3, 31)


@dataclass
class Stack:
    client: TestClient  # type: ignore[type-arg]
    fake: FakeGitHub
    fake_url: str
    settings: AuthSettings
    redis: Redis
    db: asyncpg.Pool

    async def start_login(self, next_path: str | None = "/packages/requests") -> ClientResponse:
        params = {"next": next_path} if next_path is not None else {}
        response = await self.client.get("/auth/login", params=params, allow_redirects=False)
        assert response.status == 302, await response.text()
        return response

    async def authorize(self, login: ClientResponse, user: str | None = None) -> str:
        """Follow /auth/login's redirect to the fake GitHub; returns the callback URL it sends back."""
        location = login.headers["Location"]
        assert location.startswith(self.fake_url + "/login/oauth/authorize?")
        if user is not None:
            location += f"&login={user}"
        response = await self.client.session.get(location, allow_redirects=False)
        assert response.status == 302
        return response.headers["Location"]

    async def callback(self, url: str) -> ClientResponse:
        return await self.client.session.get(url, allow_redirects=False)

    async def login(
        self, next_path: str | None = "/packages/requests", user: str | None = None
    ) -> ClientResponse:
        """The whole dance; returns the callback's answer (a 303 to next on success)."""
        response = await self.callback(await self.authorize(await self.start_login(next_path), user))
        assert response.status == 303, await response.text()
        return response

    def session_cookie(self) -> str | None:
        for cookie in self.client.session.cookie_jar:
            if cookie.key == COOKIE_NAME:
                return cookie.value
        return None

    async def session_keys(self) -> list[bytes]:
        return [k async for k in self.redis.scan_iter(match=f"{self.settings.namespace}:session:*")]

    async def state_keys(self) -> list[bytes]:
        return [k async for k in self.redis.scan_iter(match=f"{self.settings.namespace}:auth:state:*")]

    async def csrf(self) -> str:
        response = await self.client.get("/auth/me")
        assert response.status == 200, await response.text()
        return str((await response.json())["csrf_token"])


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
async def fake_github() -> AsyncIterator[tuple[FakeGitHub, str]]:
    fake = FakeGitHub()
    server = TestServer(create_fake_github(fake), port=free_port())
    await server.start_server()
    try:
        yield fake, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def make_settings(
    database_url: str, redis_url: str, namespace: str, port: int, fake_url: str, **extra: object
) -> AuthSettings:
    fields: dict[str, object] = dict(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        namespace=namespace,
        session_secret=SECRET,
        public_url=f"http://127.0.0.1:{port}",
        github_client_id="",
        fake_github_url=fake_url,
        port=port,
    )
    fields.update(extra)
    return AuthSettings(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def stack(
    db: asyncpg.Pool,
    redis: Redis,
    database_url: str,
    redis_url: str,
    namespace: str,
    fake_github: tuple[FakeGitHub, str],
) -> AsyncIterator[Stack]:
    fake, fake_url = fake_github
    port = free_port()
    settings = make_settings(database_url, redis_url, namespace, port, fake_url)
    async with TestClient(TestServer(create_app(settings), port=port)) as client:
        yield Stack(client, fake, fake_url, settings, redis, db)


@pytest.fixture
async def packages(db: asyncpg.Pool) -> list[str]:
    """25 known packages (more than the tracking limit)."""
    names = ["requests", "django", "flask"] + [f"pkg-{i:02d}" for i in range(22)]
    rows = [row for i, name in enumerate(names) for row in package_rows(name, 100 + i, END, 2)]
    await seed(db, rows)
    return names
