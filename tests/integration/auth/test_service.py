"""The auth service as it is deployed: ops routes, GitHub unreachable, and both commands run as
subprocesses (``serve`` against ``fake-github``) through a whole login with a plain HTTP client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import asyncpg
import pytest
from redis.asyncio import Redis

from services.auth.github import AuthlibGitHub, OAuthUnavailable
from shared.embedded import free_port
from shared.sessions import COOKIE_NAME
from tests.integration.auth.conftest import Stack
from tests.support.wait import wait_until


async def test_health_ready_metrics(stack: Stack) -> None:
    assert (await stack.client.get("/health")).status == 200
    ready = await stack.client.get("/ready")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"database": "ok", "redis": "ok"}
    text = await (await stack.client.get("/metrics")).text()
    assert "pypistats_auth_http_request_duration_seconds_bucket" in text


async def test_unreachable_github_is_unavailable_not_refused() -> None:
    port = free_port()  # nothing listens there
    base = f"http://127.0.0.1:{port}"
    provider = AuthlibGitHub("id", "secret", f"{base}/authorize", f"{base}/token", base, timeout=2)
    assert provider.authorize_url("st", "http://cb/auth/callback").startswith(f"{base}/authorize?")
    with pytest.raises(OAuthUnavailable):
        await provider.fetch_user("code", "http://cb/auth/callback")


@pytest.fixture
def running_auth(service_env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``serve`` and ``fake-github`` started as subprocesses; yields (auth URL, fake GitHub URL)."""
    fake_port, auth_port = free_port(), free_port()
    env = service_env | {
        "PORT": str(auth_port),
        "OPS_HOST": "127.0.0.1",
        "PUBLIC_URL": f"http://127.0.0.1:{auth_port}",
        "FAKE_GITHUB_URL": f"http://127.0.0.1:{fake_port}",
        "GITHUB_CLIENT_ID": "",
    }
    fake = ["fake-github", "--port", str(fake_port), "--login", "mona", "--user-id", "77"]
    started = [
        subprocess.Popen([sys.executable, "-m", "services.auth", *argv], env=env)
        for argv in (fake, ["serve"])
    ]
    try:
        yield f"http://127.0.0.1:{auth_port}", f"http://127.0.0.1:{fake_port}"
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _answers(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return response.status < 500
    except aiohttp.ClientError:
        return False


@pytest.mark.slow
async def test_serve_and_fake_github_commands(
    running_auth: tuple[str, str], db: asyncpg.Pool, redis: Redis, namespace: str
) -> None:
    auth, fake = running_auth
    await wait_until(lambda: _answers(f"{auth}/ready"), timeout=60, what="auth /ready")
    await wait_until(lambda: _answers(f"{fake}/user"), timeout=60, what="fake github")

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        url = f"{auth}/auth/login?next=/user"
        for expected in (302, 302, 303):  # auth -> fake GitHub -> callback -> /user
            async with http.get(url, allow_redirects=False) as response:
                assert response.status == expected, await response.text()
                url = response.headers["Location"]
        assert url == "/user"
        assert any(c.key == COOKIE_NAME for c in jar)
        async with http.get(f"{auth}/auth/me") as response:
            assert (await response.json())["login"] == "mona"
    assert await db.fetchval("SELECT github_id FROM users") == 77
    assert len([k async for k in redis.scan_iter(match=f"{namespace}:session:*")]) == 1
