"""The personal parts (login state, track forms, /user dashboard), the page cache and Redis outages."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from services.web.app import create_app
from services.web.config import WebSettings
from services.web.views import PAGE_CACHE
from shared.cache import CacheKeys, bump_cache_version
from shared.embedded import free_port
from shared.sessions import COOKIE_NAME, Session, SessionStore
from tests.integration.web.conftest import END, OPENAPI


async def login(
    db: asyncpg.Pool, redis: Redis, settings: WebSettings, login: str, tracked: list[str]
) -> tuple[Session, str]:
    user_id = await db.fetchval(
        "INSERT INTO users (github_id, login, name) VALUES ($1, $2, $3) RETURNING id",
        hash(login) % 10**9,
        login,
        login,
    )
    await db.executemany(
        "INSERT INTO user_packages (user_id, package) VALUES ($1, $2)", [(user_id, p) for p in tracked]
    )
    store = SessionStore(redis, settings.redis_prefix, settings.session_secret.get_secret_value())
    session = await store.create(user_id, login, login, None)
    return session, store.cookie_value(session)


async def text(client: TestClient, path: str, cookie: str | None = None, status: int = 200) -> str:
    cookies = {COOKIE_NAME: cookie} if cookie else None
    response = await client.get(path, cookies=cookies, allow_redirects=False)
    body = await response.text()
    assert response.status == status, (path, body[:300])
    return body


async def test_header_shows_login_link_when_logged_out(client: TestClient) -> None:
    html = await text(client, "/packages/requests?lookback=30")
    login = 'href="/auth/login?next=%2Fpackages%2Frequests%3Flookback%3D30"'
    assert (
        '<a href="/auth/login?next=%2Fpackages%2Frequests%3Flookback%3D30" class="login">Log in</a>' in html
    )
    assert f'<a class="track-login" {login}>Log in to track</a>' in html
    assert "/auth/logout" not in html and "/auth/me/packages" not in html and 'href="/user"' not in html
    assert "Log in to track" not in await text(client, "/packages/__all__")


async def test_logged_in_header_track_forms_and_dashboard(
    client: TestClient, db: asyncpg.Pool, redis: Redis, web_settings: WebSettings
) -> None:
    session, cookie = await login(db, redis, web_settings, "octocat", ["requests", "django"])
    html = await text(client, "/packages/requests?lookback=30", cookie)
    assert 'class="who" title="Logged in with GitHub">octocat<' in html
    assert '<a href="/user" class="mine">My packages</a>' in html and "Log in to track" not in html
    logout = re.search(r'<form method="post" action="/auth/logout".*?</form>', html, re.S)
    assert logout and f'name="csrf_token" value="{session.csrf_token}"' in logout.group(0)
    assert 'name="next" value="/packages/requests?lookback=30"' in logout.group(0)
    remove = re.search(
        r'<form method="post" action="/auth/me/packages/requests/delete".*?</form>', html, re.S
    )
    assert remove, "tracked package shows a remove form"
    assert f'value="{session.csrf_token}"' in remove.group(0)
    assert 'name="next" value="/packages/requests?lookback=30"' in remove.group(0)
    html = await text(client, "/packages/requests-oauthlib", cookie)
    add = re.search(r'<form method="post" action="/auth/me/packages">.*?</form>', html, re.S)
    assert add, "untracked package shows an add form"
    form = add.group(0)
    assert 'name="package" value="requests-oauthlib"' in form and f'value="{session.csrf_token}"' in form
    assert 'name="next" value="/packages/requests-oauthlib"' in form
    assert "/auth/me/packages" not in await text(client, "/packages/__all__", cookie)

    dashboard = await text(client, "/user", cookie)
    rows = re.findall(r'<tr data-package="([^"]+)">(.*?)</tr>', dashboard, re.S)
    assert [p for p, _ in rows] == ["django", "requests"]
    cells = dict(rows)
    for package in ("django", "requests"):  # a remove button per row, with this session's token
        remove = re.search(
            rf'<form method="post" action="/auth/me/packages/{package}/delete" class="remove">.*?</form>',
            cells[package],
            re.S,
        )
        assert remove and f'name="csrf_token" value="{session.csrf_token}"' in remove.group(0)
        assert 'name="next" value="/user"' in remove.group(0)
    add = re.search(
        r'<form method="post" action="/auth/me/packages" class="add-package">.*?</form>', dashboard, re.S
    )
    assert add and f'name="csrf_token" value="{session.csrf_token}"' in add.group(0)
    assert 'name="package"' in add.group(0) and 'list="package-suggestions"' in add.group(0)
    assert re.search(r'<script src="/static/[0-9a-f]{16}/suggest.js" defer>', dashboard)
    assert '<td class="num">139</td>' in cells["requests"]
    assert f'<td class="num">{sum(range(110, 140)):,}</td>' in cells["requests"]
    points = re.search(r'points="([^"]+)"', cells["requests"])
    assert points and len(points.group(1).split()) == 30
    # the last point is the highest (downloads grow every day): y at the top of the box
    assert points.group(1).split()[-1] == "120,1"
    # django only has 20 days: the first 10 of the 30 are zero (at the bottom)
    django_points = re.search(r'points="([^"]+)"', cells["django"])
    assert django_points and django_points.group(1).split()[0].endswith(",27")


async def test_cached_fragments_never_carry_another_users_state(
    client: TestClient, db: asyncpg.Pool, redis: Redis, web_settings: WebSettings
) -> None:
    _, cookie = await login(db, redis, web_settings, "alice", ["requests"])
    assert ">alice<" in await text(client, "/packages/requests", cookie)
    anonymous = await text(client, "/packages/requests")
    assert "alice" not in anonymous and "/auth/me/packages" not in anonymous
    _, bob = await login(db, redis, web_settings, "bob", [])
    html = await text(client, "/packages/requests", bob)
    assert ">bob<" in html and "alice" not in html and 'action="/auth/me/packages"' in html
    # again, now from the whole-page bytes (services.web.pagebytes): logged out from the cached
    # entry, logged in from the cached shell with their own parts
    assert await text(client, "/packages/requests") == anonymous
    again = await text(client, "/packages/requests", cookie)
    assert ">alice<" in again and "bob" not in again and "/auth/me/packages/requests/delete" in again
    metrics = await text(client, "/metrics")
    assert 'pypistats_web_page_bytes_requests_total{result="hit"} 1.0' in metrics
    assert 'pypistats_web_page_bytes_requests_total{result="shell"} 3.0' in metrics  # all but the first


async def test_forged_or_expired_cookies_are_logged_out(
    client: TestClient, db: asyncpg.Pool, redis: Redis, web_settings: WebSettings
) -> None:
    session, cookie = await login(db, redis, web_settings, "mallory", ["requests"])
    forged = session.id + ".AAAA"
    for bad in (forged, "x" * 300, "not-a-cookie", cookie.replace(session.id[:4], "ZZZZ", 1)):
        html = await text(client, "/user", bad)
        assert "Log in with GitHub" in html and "mallory" not in html
    await redis.delete(f"{web_settings.redis_prefix}session:{session.id}")
    assert "mallory" not in await text(client, "/user", cookie)


async def test_user_page_logged_out_links_to_login(client: TestClient) -> None:
    html = await text(client, "/user")
    assert 'href="/auth/login?next=%2Fuser"' in html


async def test_page_cache_hits_until_the_version_is_bumped(
    client: TestClient, db: asyncpg.Pool, redis: Redis, web_settings: WebSettings
) -> None:
    assert '<span class="num" id="last-day">139</span>' in await text(client, "/packages/requests")
    await db.execute(
        "UPDATE recent_downloads SET downloads = 7 WHERE package = 'requests' AND period = 'day'"
    )
    assert '<span class="num" id="last-day">139</span>' in await text(client, "/packages/requests")
    metrics = await text(client, "/metrics")  # the whole page's bytes, before the fragment's
    assert 'pypistats_web_page_bytes_requests_total{result="hit"} 1.0' in metrics
    assert '<span class="num" id="last-day">139</span>' in await text(
        client, "/packages/requests?from=bookmark"
    )
    metrics = await text(client, "/metrics")  # another address of the same page: the same fragment
    assert 'pypistats_web_page_bytes_requests_total{result="hit"} 1.0' in metrics
    assert 'pypistats_web_cache_requests_total{result="hit"} 1.0' in metrics
    await bump_cache_version(redis, CacheKeys(web_settings.redis_prefix))
    await client.server.app[PAGE_CACHE].known.refresh()  # what rollups.updated (or the timer) does
    assert '<span class="num" id="last-day">7</span>' in await text(client, "/packages/requests")
    keys = [k async for k in redis.scan_iter(match=f"{web_settings.redis_prefix}web:page:*")]
    assert keys and all(len(k) < 200 for k in keys)


async def test_redis_down_still_serves_from_postgres(
    web_settings: WebSettings, seeded: dt.date, db: asyncpg.Pool, redis: Redis
) -> None:
    _, cookie = await login(db, redis, web_settings, "carol", ["requests"])
    down = web_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    app = create_app(down, openapi_document=OPENAPI)
    async with TestClient(TestServer(app)) as client:
        for path in (
            "/",
            "/packages/requests",
            "/top",
            "/search/req",
            "/compare?packages=requests",
            "/user",
            "/api",
        ):
            html = await text(client, path, cookie)
            assert f"Data through {END.isoformat()}" in html
        assert '<span class="num" id="last-day">139</span>' in await text(client, "/packages/requests")
        assert "carol" not in await text(client, "/user", cookie)
        ready = await client.get("/ready")
        assert ready.status == 200
        metrics = await text(client, "/metrics")
        assert 'pypistats_web_cache_requests_total{result="error"}' in metrics


async def test_database_down_gives_html_500_page(
    web_settings: WebSettings, seeded: dt.date, redis: Any
) -> None:
    app = create_app(web_settings, openapi_document=OPENAPI)
    async with TestClient(TestServer(app)) as client:
        from shared.web import PG_POOL

        await app[PG_POOL].close()
        response = await client.get("/packages/django?lookback=5")
        body = await response.text()
        assert response.status == 500 and response.content_type == "text/html"
        assert "Something went wrong" in body and "Traceback" not in body


async def test_error_pages_keep_the_login_state(
    client: TestClient, db: asyncpg.Pool, redis: Redis, web_settings: WebSettings
) -> None:
    _, cookie = await login(db, redis, web_settings, "dora", [])
    html = await text(client, "/packages/zzz-unknown", cookie, status=404)
    assert ">dora<" in html and "Package not found" in html


async def test_dashboard_says_why_a_package_was_refused(
    client: TestClient, db: asyncpg.Pool, redis: Redis, web_settings: WebSettings
) -> None:
    _, cookie = await login(db, redis, web_settings, "erin", [])
    html = await text(client, "/user?error=unknown&package=%3Cb%3Enope", cookie)
    assert 'role="alert">We have no downloads recorded for “&lt;b&gt;nope”' in html
    assert "maximum number of packages" in await text(client, "/user?error=limit", cookie)
    assert 'role="alert"' not in await text(client, "/user?error=whatever", cookie)
