"""Fixtures for the web page tests: seeded rows, a fake PyPI and the web app on a test client."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.web import fakepypi
from services.web.app import create_app
from services.web.config import WebSettings
from tests.support.seed import package_rows, platform_rows, seed, with_all

END = dt.date(2026, 11, 24)
OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "pypistats API", "version": "1.0", "description": "Download statistics."},
    "paths": {
        "/api/packages/{package}/recent": {
            "parameters": [{"$ref": "#/components/parameters/package"}],
            "get": {
                "operationId": "recent",
                "summary": "Recent downloads",
                "parameters": [
                    {
                        "name": "period",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["day", "week", "month"]},
                    }
                ],
                "responses": {"200": {"description": "Totals"}, "404": {"description": "Unknown package"}},
            },
        }
    },
    "components": {
        "parameters": {
            "package": {"name": "package", "in": "path", "required": True, "schema": {"type": "string"}}
        }
    },
}


@pytest.fixture
async def seeded(db: asyncpg.Pool) -> dt.date:
    rows = package_rows("requests", 100, END, 40) + package_rows("requests-oauthlib", 5, END, 10)
    rows += package_rows("django", 50, END, 20) + package_rows("slowpkg", 7, END, 5)
    rows += platform_rows("requests", 100, END, 40)  # the platform and ABI charts
    return await seed(db, with_all(rows))


@pytest.fixture
async def pypi() -> AsyncIterator[TestServer]:
    projects = {
        "requests": fakepypi.project(
            "requests",
            summary="Python HTTP for <b>Humans</b>.",
            version="2.32.3",
            license="Apache-2.0",
            requires_dist=[
                "charset_normalizer<4,>=2",
                "idna (<4,>=2.5)",
                "PySocks!=1.5.7,>=1.5.6; extra == 'socks'",
            ],
            project_urls={"Source": "https://github.com/psf/requests", "Evil": "javascript:alert(1)"},
        ),
        "slowpkg": fakepypi.project("slowpkg"),
    }
    server = TestServer(fakepypi.create_app(projects, slow=frozenset({"slowpkg"}), slow_seconds=5.0))
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def settings(database_url: str, redis_url: str, namespace: str, pypi_url: str, **extra: Any) -> WebSettings:
    values: dict[str, Any] = dict(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        namespace=namespace,
        pypi_url=pypi_url,
        pypi_timeout=0.5,
    )
    values.update(extra)
    return WebSettings(**values)


@pytest.fixture
async def web_settings(database_url: str, redis_url: str, namespace: str, pypi: TestServer) -> WebSettings:
    return settings(database_url, redis_url, namespace, str(pypi.make_url("")).rstrip("/"))


@pytest.fixture
async def client(web_settings: WebSettings, seeded: dt.date, redis: Any) -> AsyncIterator[TestClient]:
    app = create_app(web_settings, openapi_document=OPENAPI)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
