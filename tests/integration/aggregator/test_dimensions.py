"""The seven dimensions beyond pypistats.org, end to end: hand-made file_downloads rows through the
raw source (the production query on DuckDB), NATS JetStream, the aggregator and the API.

The day's rows (tests/fixtures/ingest) hold every edge the accounting rules name: missing
version, country, file type and ci; mirror installers and the NULL installer (counted only by
``installer``); odd python strings (dropped from every dimension); the first and last second of
the day and of its neighbours; spellings of one project that normalise to one package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from nats.js import JetStreamContext
from redis.asyncio import Redis

from services.api.app import create_app
from services.api.config import ApiSettings
from services.ingest.channels import Outlet
from services.ingest.publisher import publish_day
from services.ingest.sources.raw import RawSource
from shared.events import Subjects
from tests.integration.aggregator.helpers import completed_run, running_consumer
from tests.support.wait import wait_until
from tests.unit.ingest.test_query import DAY, JSONL, expected

NEW = ("version", "installer", "country", "file_type", "ci", "platform", "abi")


@pytest.fixture
async def api(
    new_processor: Any,
    outlet: Outlet,
    db: asyncpg.Pool,
    redis: Redis,
    js: JetStreamContext,
    subjects: Subjects,
    database_url: str,
    redis_url: str,
) -> AsyncIterator[TestClient]:
    """The fixture day ingested from the raw rows and aggregated, and an API over it."""
    async with running_consumer(new_processor(batch_size=50)):
        result = await publish_day(outlet, RawSource(JSONL), DAY)
        await wait_until(lambda: completed_run(db, DAY), what="the day to complete")
    assert result.packages == 4
    settings = ApiSettings(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        namespace=subjects.namespace,
        db_pool_size=2,
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def series(api: TestClient, package: str, dimension: str, query: str = "") -> list[dict[str, Any]]:
    response = await api.get(f"/api/packages/{package}/{dimension}{query}")
    body = await response.json()
    assert response.status == 200, body
    assert body["type"] == f"{dimension}_downloads"
    assert body["package"] == (package if package == "__all__" else package.lower().replace("_", "-"))
    rows: list[dict[str, Any]] = body["data"]
    assert [(r["category"], r["date"]) for r in rows] == sorted((r["category"], r["date"]) for r in rows)
    return rows


def by_category(rows: list[dict[str, Any]]) -> dict[str, int]:
    assert {r["date"] for r in rows} <= {DAY.isoformat()}
    return {r["category"]: r["downloads"] for r in rows}


async def test_every_new_dimension_matches_the_hand_count(api: TestClient) -> None:
    want = expected()
    for package, counts in want.items():
        for dimension in NEW:
            got = by_category(await series(api, package, dimension))
            assert got == counts.get(dimension, {}), (package, dimension)
    # installers add up to with_mirrors (mirrors and the NULL installer included), the others to without
    requests = want["requests"]
    assert sum(requests["installer"].values()) == requests["overall"]["with_mirrors"] == 13
    for dimension in ("version", "country", "file_type", "ci", "platform", "abi"):
        assert sum(requests[dimension].values()) == requests["overall"]["without_mirrors"] == 8
    # a package downloaded only by mirrors has installers and nothing else
    assert await series(api, "mirror-only", "version") == []
    assert by_category(await series(api, "Mirror_Only", "installer")) == {"bandersnatch": 2}


async def test_all_sums_every_new_dimension_but_versions(api: TestClient) -> None:
    want = expected()
    for dimension in ("installer", "country", "file_type", "ci", "platform", "abi"):
        total: dict[str, int] = {}
        for counts in want.values():
            for category, n in counts.get(dimension, {}).items():
                total[category] = total.get(category, 0) + n
        assert by_category(await series(api, "__all__", dimension)) == total, dimension
    assert await series(api, "__all__", "version") == []


async def test_filters_limit_and_bad_values(api: TestClient) -> None:
    assert by_category(await series(api, "requests", "version", "?version=2.32.0")) == {"2.32.0": 4}
    assert by_category(await series(api, "requests", "version", "?version=null")) == {"null": 1}
    assert await series(api, "requests", "version", "?version=2.32") == []  # exact, not a prefix
    assert by_category(await series(api, "requests", "installer", "?installer=Bandersnatch")) == {
        "Bandersnatch": 1
    }
    assert by_category(await series(api, "requests", "country", "?country=de")) == {"DE": 2}
    assert by_category(await series(api, "requests", "ci", "?ci=TRUE")) == {"true": 3}
    assert by_category(await series(api, "requests", "file_type", "?file_type=sdist")) == {"sdist": 1}
    # limit: the N versions with most downloads, the rest summed under "other"
    assert by_category(await series(api, "requests", "version", "?limit=1")) == {"2.32.0": 4, "other": 4}
    assert by_category(await series(api, "requests", "version", "?limit=2")) == {
        "2.31.0": 2, "2.32.0": 4, "other": 2,
    }  # fmt: skip
    assert (
        by_category(await series(api, "requests", "version", "?limit=100"))
        == expected()["requests"]["version"]
    )
    day = DAY.isoformat()
    assert await series(api, "requests", "ci", f"?start_date={DAY + dt.timedelta(days=1)}") == []
    assert len(await series(api, "requests", "ci", f"?start_date={day}&end_date={day}")) == 3
    for query, parameter in (
        ("/version?limit=0", "limit"),
        ("/version?limit=101", "limit"),
        ("/version?limit=ten", "limit"),
        ("/version?version=" + "9" * 129, "version"),
        ("/installer?installer=pip%0A", "installer"),
        ("/ci?ci=maybe", "ci"),
        ("/country?country=" + "x" * 17, "country"),
    ):
        response = await api.get(f"/api/packages/requests{query}")
        body = await response.json()
        assert response.status == 400 and body["error"]["parameter"] == parameter, (query, body)
    missing = await api.get("/api/packages/not-a-package/version")
    assert missing.status == 404


async def test_answers_are_cached_and_etagged_like_the_rest(api: TestClient) -> None:
    first = await api.get("/api/packages/requests/country")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public") and "RateLimit-Remaining" in first.headers
    again = await api.get("/api/packages/requests/country", headers={"If-None-Match": etag})
    assert again.status == 304
    # a different limit is a different answer, never the cached one of another query
    one = await (await api.get("/api/packages/requests/version?limit=1")).json()
    two = await (await api.get("/api/packages/requests/version?limit=2")).json()
    assert one != two
