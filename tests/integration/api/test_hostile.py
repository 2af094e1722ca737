"""Hostile package names and parameters: a clear 4xx with a JSON body, nothing cached or changed."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

HOSTILE_NAMES = (
    "requests'%3B%20DROP%20TABLE%20daily_downloads%3B--",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "..%2F..%2Fetc%2Fpasswd",
    "a" * 10_000,
    "%ff%fe",
    "caf%C3%A9",
    "-leading-dash",
    "%00",
    "__all__%00",
)
HOSTILE_QUERIES = (
    ("recent?period=%ff", "period"),
    ("recent?period=day'%20OR%201=1--", "period"),
    ("overall?start_date=%3Cb%3E", "start_date"),
    ("overall?end_date=" + "9" * 10_000, "end_date"),
    ("system?os=..%2F..%2Fetc", "os"),
    ("python_minor?version=%ff", "version"),
    ("overall?mirrors=" + "x" * 5000, "mirrors"),
)


async def test_hostile_names_get_a_json_4xx(
    api: TestClient, seeded: Any, redis: Redis, namespace: str
) -> None:
    before = await seeded.fetchval("SELECT count(*) FROM daily_downloads")
    for name in HOSTILE_NAMES:
        for endpoint in ("recent", "overall", "badge.svg"):
            response = await api.get(f"/api/packages/{name}/{endpoint}")
            text = await response.text()
            assert 400 <= response.status < 500, (name[:40], response.status, text[:200])
            assert "<script>" not in text and len(text) < 3000
            if endpoint == "badge.svg":  # a badge never fails as a page: an image saying so
                assert response.headers["Content-Type"].startswith("image/svg+xml")
                assert ElementTree.fromstring(text).tag == "{http://www.w3.org/2000/svg}svg"
                continue
            body = json.loads(text)
            assert body["error"]["status"] == response.status
    assert await seeded.fetchval("SELECT count(*) FROM daily_downloads") == before
    assert [k async for k in redis.scan_iter(match=f"{namespace}:api:*")] == []


async def test_hostile_parameters_get_a_400_naming_them(api: TestClient) -> None:
    for path, parameter in HOSTILE_QUERIES:
        response = await api.get(f"/api/packages/requests/{path}")
        text = await response.text()
        assert response.status == 400, (path[:60], text[:200])
        error = json.loads(text)["error"]
        assert error["parameter"] == parameter and len(text) < 1000


async def test_unknown_routes_and_methods_are_json(api: TestClient) -> None:
    missing = await api.get("/api/packages/requests/downloads")
    assert missing.status == 404 and (await missing.json())["error"]["status"] == 404
    wrong = await api.post("/api/packages/requests/recent")
    assert wrong.status == 405 and (await wrong.json())["error"]["status"] == 405
    assert "GET" in wrong.headers["Allow"]
