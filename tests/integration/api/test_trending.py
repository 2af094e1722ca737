"""``/api/trending`` against real PostgreSQL and Redis: it serves the stored lists (the aggregator's
tests check how they are computed), bounded by ``limit``, each with its method; every bad parameter
is a JSON 400 naming it; bodies are cached with an ETag and a 304."""

from __future__ import annotations

import datetime as dt
import json

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from shared import discovery
from tests.integration.api.test_contract import assert_error, get_json

DAY = dt.date(2026, 6, 30)
TRENDING = [
    {"rank": i, "package": f"pkg-{i}", "downloads_earlier": 1000, "downloads_recent": 1000 + 100 * (30 - i),
     "growth": round((30 - i) / 10, 4), "ci_earlier": 0, "ci_recent": 0}
    for i in range(1, 26)
]  # fmt: skip
UV_SHARE = [{"rank": 1, "package": "fast", "downloads": 30, "total": 40, "share": 0.75}]
UV_DOWNLOADS = [{"rank": 1, "package": "big", "downloads": 900, "total": 9000, "share": 0.1}]
LISTS = [
    ("trending", "", "", "", 0, TRENDING),
    ("new", "", "", "", 0, [{"rank": 1, "package": "newbie", "first_day": "2026-06-01", "downloads_recent": 5, "downloads_earlier": 0}]),
    ("top", "installer", "pip", "downloads", 0, []),
    ("top", "installer", "pip", "share", 1, []),
    ("top", "installer", "uv", "downloads", 2, UV_DOWNLOADS),
    ("top", "installer", "uv", "share", 3, UV_SHARE),
]  # fmt: skip


@pytest.fixture
async def lists(seeded: asyncpg.Pool) -> asyncpg.Pool:
    await seeded.execute("DELETE FROM discovery_lists")  # the seed's own, computed from its rows
    await seeded.executemany(
        "INSERT INTO discovery_lists (list, dimension, category, by, position, day, entries) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(n, d, c, o, p, DAY, json.dumps(e)) for n, d, c, o, p, e in LISTS],
    )
    return seeded


async def test_trending_by_default_bounded_by_limit(lists: asyncpg.Pool, api: TestClient) -> None:
    body = await get_json(api, "/api/trending")
    assert body == {
        "data": TRENDING[:20],
        "day": DAY.isoformat(),
        "limit": 20,
        "list": "trending",
        "method": discovery.METHODS["trending"],
        "type": "trending",
    }
    assert (await get_json(api, "/api/trending?limit=3"))["data"] == TRENDING[:3]
    assert (await get_json(api, "/api/trending?limit=100"))["data"] == TRENDING
    new = await get_json(api, "/api/trending?list=new")
    assert [e["package"] for e in new["data"]] == ["newbie"] and new["method"] == discovery.METHODS["new"]


async def test_top_by_category_and_order(lists: asyncpg.Pool, api: TestClient) -> None:
    body = await get_json(api, "/api/trending?list=top&dimension=installer&category=uv&order=share")
    assert body["data"] == UV_SHARE
    assert (body["dimension"], body["category"], body["order"]) == ("installer", "uv", "share")
    assert body["categories"] == ["pip", "uv"]
    assert body["method"] == discovery.METHODS["top"]
    by_downloads = await get_json(api, "/api/trending?list=top&dimension=installer&category=uv")
    assert by_downloads["data"] == UV_DOWNLOADS and by_downloads["order"] == "downloads"
    other = await get_json(api, "/api/trending?list=top&dimension=installer&category=pdm")
    assert other["data"] == [] and other["categories"] == ["pip", "uv"]


async def test_no_lists_yet(seeded: asyncpg.Pool, api: TestClient) -> None:
    await seeded.execute("DELETE FROM discovery_lists")
    body = await get_json(api, "/api/trending")
    assert body["data"] == [] and body["day"] is None


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("list=hot", "list"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("dimension=installer", "dimension"),
        ("list=new&category=uv", "category"),
        ("list=trending&order=share", "order"),
        ("list=top", "dimension"),
        ("list=top&dimension=version&category=1.0", "dimension"),
        ("list=top&dimension=installer", "category"),
        ("list=top&dimension=ci&category=maybe", "category"),
        ("list=top&dimension=python_minor&category=three", "category"),
        ("list=top&dimension=installer&category=uv&order=size", "order"),
        ("list=top&dimension=installer&category=" + "x" * 65, "category"),
    ],
)
async def test_bad_parameters_are_named(
    lists: asyncpg.Pool, api: TestClient, query: str, parameter: str
) -> None:
    body = await get_json(api, f"/api/trending?{query}", status=400)
    assert_error(body, 400, parameter)


async def test_cached_with_etag(lists: asyncpg.Pool, api: TestClient) -> None:
    first = await api.get("/api/trending?list=new")
    assert first.status == 200
    etag = first.headers["ETag"]
    assert "max-age" in first.headers["Cache-Control"]
    again = await api.get("/api/trending?list=new", headers={"If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag
    other = await api.get("/api/trending?list=trending")
    assert other.headers["ETag"] != etag
