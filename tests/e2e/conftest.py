"""Fixtures of the browser tests: one Chromium per session and, per module, the site as a visitor
reaches it: the web and auth services (with a fake PyPI and a fake GitHub) behind the same
reverse proxy ``make run`` uses, on one origin, over seeded rows.

These run in the session's event loop (``loop_scope="session"``), so the browser outlives a test;
a browser test module marks itself ``pytest.mark.asyncio(loop_scope="session")`` and does not use
the function-scoped ``db``/``redis`` fixtures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from redis.asyncio import Redis

from services.api.app import create_app as create_api
from services.api.config import ApiSettings
from services.auth.app import create_app as create_auth
from services.auth.config import AuthSettings
from services.auth.fake_github import FakeGitHub, create_fake_github
from services.web import fakepypi
from services.web.app import create_app as create_web
from services.web.config import WebSettings
from shared.devstack.proxy import create_proxy_app
from shared.embedded import free_port
from tests.conftest import DATA_TABLES
from tests.support.browser import ARGS
from tests.support.environment import require_executable
from tests.support.seed import Row, package_rows, people_rows, platform_rows, seed, with_all
from tests.support.servers import unique_name

CHROMIUM = "/usr/bin/chromium"  # Debian's; CHROMIUM_PATH points elsewhere
END = dt.date(2026, 11, 24)
SECRET = "browser-test-session-secret-0123456789abcdef"
#: The last day's downloads without mirrors of ``bigpkg``: hover labels must show it in full.
BIG = 13_416_840
#: A day of ``hugepkg``: its month is an 11-digit total, as PyPI's all-packages month is.
HUGE = 1_234_567_890
#: Python minor versions of ``manyminors``, fewest downloads first (more than a chart's top N).
MINORS = ["3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]


@dataclass(frozen=True)
class Site:
    origin: str
    github: str
    db: asyncpg.Pool


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium's path, before anything is seeded: missing fails under CI=true, skips elsewhere."""
    return require_executable("chromium", CHROMIUM, override="CHROMIUM_PATH")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


def many_minors(package: str) -> list[Row]:
    """181 days of a package with nine Python minor versions (3.6 least, 3.14 most downloaded)."""
    rows: list[Row] = []
    for i in range(181):
        day = END - dt.timedelta(days=180 - i)
        minors = {minor: 10 * (k + 1) for k, minor in enumerate(MINORS)} | {"null": 1}
        total = sum(minors.values())
        rows += [
            (day, package, "overall", "with_mirrors", total + 5),
            (day, package, "overall", "without_mirrors", total),
        ]
        rows += [(day, package, "python_minor", minor, n) for minor, n in minors.items()]
        rows += [(day, package, "python_major", "3", total - 1), (day, package, "python_major", "null", 1)]
    return rows


async def start(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


@contextlib.asynccontextmanager
async def serve(
    database_url: str, redis_url: str, rows: list[Row], projects: dict[str, Any] | None = None
) -> AsyncIterator[Site]:
    """The site over ``rows`` (the tables emptied first) on one origin: ``/auth`` to auth,
    ``/api/...`` to the api (the badges), everything else to web; the fake PyPI knows requests
    and ``projects`` (name -> JSON body)."""
    namespace = unique_name("browser")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    await pool.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " RESTART IDENTITY CASCADE")
    await pool.execute("SELECT drop_year_partitions_before('downloads_months', 'infinity')")  # as ``db`` does
    await seed(pool, with_all(rows))
    requests = fakepypi.project(
        "requests",
        summary="Python HTTP for Humans.",
        version="2.32.3",
        license="Apache-2.0",
        requires_dist=["charset_normalizer<4,>=2", "idna<4,>=2.5", "PySocks!=1.5.7; extra == 'socks'"],
        project_urls={"Source": "https://github.com/psf/requests"},
    )
    ports = {name: free_port() for name in ("proxy", "web", "auth", "api", "pypi", "github")}
    origin = f"http://127.0.0.1:{ports['proxy']}"
    github = f"http://127.0.0.1:{ports['github']}"
    common: dict[str, Any] = dict(
        env="test", database_url=database_url, redis_url=redis_url, namespace=namespace, session_secret=SECRET
    )
    web_settings = WebSettings(**common, pypi_url=f"http://127.0.0.1:{ports['pypi']}", pypi_timeout=0.5)
    auth_settings = AuthSettings(
        **common, public_url=origin, github_client_id="", fake_github_url=github, port=ports["auth"]
    )
    upstreams = {
        "web": f"http://127.0.0.1:{ports['web']}",
        "auth": f"http://127.0.0.1:{ports['auth']}",
        "api": f"http://127.0.0.1:{ports['api']}",  # the package page's badges come from it
    }
    runners = [
        await start(fakepypi.create_app({"requests": requests, **(projects or {})}), ports["pypi"]),
        await start(create_fake_github(FakeGitHub()), ports["github"]),
        await start(create_web(web_settings), ports["web"]),
        await start(create_auth(auth_settings), ports["auth"]),
        await start(create_api(ApiSettings(**common, db_pool_size=2)), ports["api"]),
        await start(create_proxy_app(upstreams), ports["proxy"]),
    ]
    try:
        yield Site(origin, github, pool)
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        await pool.close()
        redis = Redis.from_url(redis_url)
        keys = [k async for k in redis.scan_iter(match=f"{namespace}:*", count=500)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(chromium: str, database_url: str, redis_url: str) -> AsyncIterator[Site]:
    """The seeded site: 181 days, packages of every shape the browser tests draw."""
    rows = package_rows("requests", 100, END, 120) + package_rows("django", 40, END, 60)
    rows += package_rows("requests-toolbelt", 5, END, 10) + package_rows("hugepkg", HUGE, END, 31)
    rows += package_rows("bigpkg", BIG - 180, END, 181) + many_minors("manyminors")
    rows += people_rows("requests", 100, END, 120)  # the overall chart's "people only" toggle
    rows += platform_rows("requests", 100, END, 120)  # the platform and ABI charts
    async with serve(database_url, redis_url, rows) as served:
        yield served
