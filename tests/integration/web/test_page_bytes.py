"""The package page as whole cached bytes (services.web.pagebytes): no rendering on a logged-out
hit, ETag/304, a version bump, and logged-in and logged-out visitors never mixed."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections import Counter
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from services.web import pages
from services.web.app import create_app
from services.web.config import WebSettings
from services.web.pagebytes import PAGE_BYTES
from services.web.views import PAGE_CACHE
from shared.cache import CacheKeys, bump_cache_version
from shared.sessions import COOKIE_NAME
from tests.integration.web.conftest import OPENAPI
from tests.integration.web.test_sessions_cache import login
from tests.support.wait import wait_until

PATH = "/packages/requests?lookback=30"


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every template rendered, by name (the hook the views render through)."""
    seen: Counter[str] = Counter()
    real = pages.render

    def counting(env: Any, template: str, **context: Any) -> str:
        seen[template] += 1
        return real(env, template, **context)

    monkeypatch.setattr(pages, "render", counting)
    return seen


async def test_a_logged_out_hit_renders_nothing_and_answers_304(
    client: TestClient, renders: Counter[str]
) -> None:
    first = await client.get(PATH)
    body = await first.read()
    assert first.status == 200 and renders["layout.html"] == 1 and renders["package.html"] == 1
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, no-cache"
    assert first.headers["Vary"] == "Cookie, Accept-Encoding"
    assert first.content_type == "text/html" and first.charset == "utf-8"
    renders.clear()
    for _ in range(3):
        again = await client.get(PATH)
        assert again.status == 200 and await again.read() == body and again.headers["ETag"] == etag
    assert sum(renders.values()) == 0, renders
    cached = await client.get(PATH, headers={"If-None-Match": etag})
    assert cached.status == 304 and await cached.read() == b"" and cached.headers["ETag"] == etag
    other = await client.get(PATH, headers={"If-None-Match": '"not-this-one"'})
    assert other.status == 200 and await other.read() == body
    assert sum(renders.values()) == 0, renders
    # the login link names the address asked for: another address of the page is its own entry,
    # laid out again around the same cached fragment
    page = await (await client.get("/packages/requests?lookback=30&unused=1")).text()
    assert "next=%2Fpackages%2Frequests%3Flookback%3D30%26unused%3D1" in page
    assert renders["layout.html"] == 1 and renders["package.html"] == 0, renders
    metrics = await (await client.get("/metrics")).text()
    assert 'pypistats_web_page_bytes_requests_total{result="hit"} 5.0' in metrics


async def test_a_version_bump_gives_new_bytes_and_a_new_etag(
    client: TestClient, db: asyncpg.Pool, redis: Redis, web_settings: WebSettings
) -> None:
    first = await client.get(PATH)
    assert '<span class="num" id="last-day">139</span>' in await first.text()
    await db.execute(
        "UPDATE recent_downloads SET downloads = 7 WHERE package = 'requests' AND period = 'day'"
    )
    assert '<span class="num" id="last-day">139</span>' in await (await client.get(PATH)).text()
    await bump_cache_version(redis, CacheKeys(web_settings.redis_prefix))
    await client.server.app[PAGE_CACHE].known.refresh()  # what rollups.updated (or the timer) does
    fresh = await client.get(PATH, headers={"If-None-Match": first.headers["ETag"]})
    assert fresh.status == 200 and '<span class="num" id="last-day">7</span>' in await fresh.text()
    assert fresh.headers["ETag"] != first.headers["ETag"]
    assert len(client.server.app[PAGE_BYTES]) == 1  # the old version's entry is gone


async def test_logged_in_and_logged_out_never_mixed(
    client: TestClient, db: asyncpg.Pool, redis: Redis, web_settings: WebSettings, renders: Counter[str]
) -> None:
    alice, alice_cookie = await login(db, redis, web_settings, "alice", ["requests"])
    bob, bob_cookie = await login(db, redis, web_settings, "bob", [])
    for versions, order in enumerate((("alice", None, "bob"), (None, "bob", "alice")), start=1):
        await bump_cache_version(redis, CacheKeys(web_settings.redis_prefix))
        await client.server.app[PAGE_CACHE].known.refresh()
        for round, who in enumerate(order + order):
            if round == len(order):  # the second round: from the cached bytes and shell
                laid_out = renders["layout.html"]
            cookie = {"alice": alice_cookie, "bob": bob_cookie, None: None}[who]
            response = await client.get(PATH, cookies={COOKIE_NAME: cookie} if cookie else None)
            html = await response.text()
            assert response.status == 200
            if who is None:
                assert "alice" not in html and "bob" not in html and "csrf_token" not in html
                assert "Log in to track" in html and "ETag" in response.headers
                continue
            token = (alice if who == "alice" else bob).csrf_token
            other = "bob" if who == "alice" else "alice"
            assert f'class="who" title="Logged in with GitHub">{who}<' in html and other not in html
            assert re.findall(r'name="csrf_token" value="([^"]+)"', html) == [token, token]
            assert ("/auth/me/packages/requests/delete" in html) == (who == "alice")
            assert "Log in to track" not in html and "ETag" not in response.headers
            assert response.headers["Cache-Control"] == "private, no-store"
        assert renders["layout.html"] == laid_out and renders["package.html"] == versions, renders
    metrics = await (await client.get("/metrics")).text()
    assert 'pypistats_web_page_bytes_requests_total{result="shell"}' in metrics


async def test_another_worker_answers_from_the_bytes_in_redis(
    client: TestClient, web_settings: WebSettings, renders: Counter[str]
) -> None:
    body = await (await client.get(PATH)).read()
    renders.clear()
    other = create_app(web_settings, openapi_document=OPENAPI)  # a second worker: its own memory
    async with TestClient(TestServer(other)) as second:
        response = await second.get(PATH)
        assert response.status == 200 and await response.read() == body
        assert sum(renders.values()) == 0, renders
        again = await second.get(PATH, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status == 304
        metrics = await (await second.get("/metrics")).text()
        assert 'pypistats_web_page_bytes_requests_total{result="shared"} 1.0' in metrics
        assert 'pypistats_web_page_bytes_requests_total{result="hit"} 1.0' in metrics


async def test_a_logged_in_visit_never_gets_a_304(
    client: TestClient, db: asyncpg.Pool, redis: Redis, web_settings: WebSettings
) -> None:
    etag = (await client.get(PATH)).headers["ETag"]
    _, cookie = await login(db, redis, web_settings, "carol", [])
    response = await client.get(PATH, cookies={COOKIE_NAME: cookie}, headers={"If-None-Match": etag})
    assert response.status == 200 and ">carol<" in await response.text()


async def test_a_page_without_pypi_metadata_is_kept_briefly(client: TestClient) -> None:
    """slowpkg's PyPI answer times out: its page is kept for the failure lifetime only."""
    cache = client.server.app[PAGE_BYTES]
    await client.get("/packages/requests")
    await client.get("/packages/slowpkg")
    lifetimes = {key[1]: item.expires for key, item in cache._items.items() if key[0] == "entry"}
    with_meta, without = lifetimes["/packages/requests"], lifetimes["/packages/slowpkg"]
    assert with_meta - without > cache.lifetime - cache.failure_lifetime - 5


async def wait_metric(client: TestClient, line: str) -> None:
    """Until /metrics has ``line``."""

    async def seen() -> bool:
        return line in await (await client.get("/metrics")).text()

    await wait_until(seen, timeout=10, interval=0.01, what=line)


async def test_concurrent_misses_of_one_page_build_it_once(
    client: TestClient, renders: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    real = pages.package

    async def held(*args: Any) -> Any:
        await release.wait()  # every request arrives while the first build is under way
        return await real(*args)

    monkeypatch.setattr(pages, "package", held)
    asked = [asyncio.ensure_future(client.get(f"{PATH}&n={i}")) for i in range(5)]
    await wait_metric(client, "pypistats_web_page_builds_joined_total 4.0")
    release.set()
    bodies = [await (await response).text() for response in asked]
    assert renders["layout.html"] == 1 and renders["package.html"] == 1, renders
    for i, body in enumerate(bodies):  # one shell, each with its own login link
        assert f"lookback%3D30%26n%3D{i}" in body and '<span class="num" id="last-day">' in body


async def test_a_page_read_behind_the_version_is_not_kept(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica behind the cache version: its page is answered but kept nowhere."""
    cache = client.server.app[PAGE_CACHE]
    real = cache.get_or_build_cacheable

    async def behind(*args: Any) -> tuple[dict[str, Any], bool]:
        payload, _ = await real(*args)
        return payload, False

    monkeypatch.setattr(cache, "get_or_build_cacheable", behind)
    for _ in range(2):
        response = await client.get(PATH)
        assert response.status == 200 and "ETag" in response.headers
    assert len(client.server.app[PAGE_BYTES]) == 0
    metrics = await (await client.get("/metrics")).text()
    assert 'pypistats_web_page_bytes_requests_total{result="miss"} 2.0' in metrics


async def test_the_page_is_sent_compressed_to_a_browser_that_takes_gzip(
    client: TestClient, renders: Counter[str]
) -> None:
    plain = await client.get(PATH, headers={"Accept-Encoding": "identity"})
    body = await plain.read()
    assert "Content-Encoding" not in plain.headers and int(plain.headers["Content-Length"]) == len(body)
    renders.clear()
    packed = await client.get(PATH, headers={"Accept-Encoding": "gzip, deflate"}, auto_decompress=False)
    raw = await packed.read()
    assert packed.headers["Content-Encoding"] == "gzip" and gzip.decompress(raw) == body
    assert len(raw) < len(body) / 3 and sum(renders.values()) == 0  # compressed once, when built
    assert packed.headers["ETag"] != plain.headers["ETag"]  # two representations, two tags
    again = await client.get(
        PATH, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    )
    assert again.status == 304
    other = await client.get(
        PATH, headers={"Accept-Encoding": "identity", "If-None-Match": packed.headers["ETag"]}
    )
    assert other.status == 200 and await other.read() == body
