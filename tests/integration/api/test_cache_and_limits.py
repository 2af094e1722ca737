"""The Redis body cache, Redis outages, and rate limiting shared by replicas."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from services.api.views import STATE
from shared.cache import CacheKeys, bump_cache_version
from shared.embedded import free_port
from tests.integration.api.conftest import END, ApiFactory
from tests.support.wait import wait_until


async def metric(api: TestClient, line_start: str) -> float:
    text = await (await api.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_bodies_are_cached_until_the_version_is_bumped(
    seeded: Any, redis: Redis, namespace: str, api_factory: ApiFactory
) -> None:
    one = await api_factory(cache_version_refresh_seconds=0.2)
    two = await api_factory(cache_version_refresh_seconds=0.2)
    url = "/api/packages/requests/recent?period=day"
    first = await (await one.get(url)).json()
    assert await metric(one, 'pypistats_api_cache_requests_total{result="miss"}') == 1
    # Change the database behind the cache: the cached body is still served, from memory by the
    # replica that built it and from Redis by the other one ...
    await seeded.execute(
        "UPDATE recent_downloads SET downloads = 1 WHERE package = 'requests' AND period = 'day'"
    )
    assert await (await one.get(url)).json() == first
    assert await metric(one, 'pypistats_api_cache_requests_total{result="hit"}') == 1
    assert await (await two.get(url)).json() == first
    assert await metric(two, 'pypistats_api_cache_requests_total{result="hit"}') == 1
    assert await metric(two, 'pypistats_api_cache_requests_total{result="miss"}') == 0
    stored = [k async for k in redis.scan_iter(match=f"{namespace}:api:0:recent:requests:*")]
    assert stored
    # A memory hit needs no Redis round trip: the body is served even once its Redis copy is gone.
    await redis.delete(*stored)
    assert await (await one.get(url)).json() == first
    # ... until the aggregator bumps the cache version: every replica sees it within the refresh interval.
    await bump_cache_version(redis, CacheKeys(f"{namespace}:"))

    async def fresh(api: TestClient) -> bool:
        return bool((await (await api.get(url)).json())["data"] == {"last_day": 1})

    for api in (one, two):
        await wait_until(lambda: fresh(api), timeout=10, what="answer after the version bump")  # noqa: B023
    assert await metric(one, 'pypistats_api_cache_requests_total{result="miss"}') >= 2
    # The new version's body is cached again.
    assert [k async for k in redis.scan_iter(match=f"{namespace}:api:1:recent:requests:*")]


async def test_memory_cache_is_bounded_and_can_be_off(
    seeded: Any, redis: Redis, api_factory: ApiFactory
) -> None:
    api = await api_factory(local_cache_mb=0)
    url = "/api/packages/requests/overall"
    first = await api.get(url)
    again = await api.get(url)
    assert first.status == again.status == 200 and await first.read() == await again.read()
    # Without the memory level every hit is read from Redis; the answer is the same.
    assert await metric(api, 'pypistats_api_cache_requests_total{result="hit"}') == 1
    assert api.app is not None and len(api.app[STATE].cache.local) == 0


async def test_redis_down_answers_from_postgres_and_stays_ready(seeded: Any, api_factory: ApiFactory) -> None:
    api = await api_factory(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    for _ in range(3):
        response = await api.get("/api/packages/requests/overall?mirrors=false")
        assert response.status == 200, await response.text()
        assert len((await response.json())["data"]) == 40
        assert response.headers["RateLimit-Limit"] == "1200"
    assert (await api.get("/api/packages/nope/recent")).status == 404
    ready = await api.get("/ready")
    assert ready.status == 200 and (await ready.json())["checks"] == {"database": "ok"}
    assert await metric(api, "pypistats_api_redis_up ") == 0
    assert await metric(api, 'pypistats_api_cache_requests_total{result="error"}') >= 3


async def test_rate_limit_is_shared_by_replicas(seeded: Any, redis: Redis, api_factory: ApiFactory) -> None:
    one = await api_factory(rate_limit_requests=3, rate_limit_window_seconds=60)
    two = await api_factory(rate_limit_requests=3, rate_limit_window_seconds=60)
    remaining = []
    for api in (one, two, one):
        response = await api.get("/api/packages/requests/recent")
        assert response.status == 200
        remaining.append(response.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    refused = await two.get("/api/packages/requests/recent")
    assert refused.status == 429
    body = json.loads(await refused.text())
    assert body["error"]["status"] == 429 and "rate limit" in body["error"]["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert (
        refused.headers["RateLimit-Remaining"] == "0"
        and refused.headers["Access-Control-Allow-Origin"] == "*"
    )
    # Ops routes are exempt and the refusal is counted.
    assert (await two.get("/health")).status == 200
    assert (await two.get("/ready")).status == 200
    assert await metric(two, "pypistats_api_rate_limited_total ") == 1


async def test_forwarded_for_is_trusted_only_through_configured_proxies(
    seeded: Any, redis: Redis, api_factory: ApiFactory
) -> None:
    api = await api_factory(rate_limit_requests=2, trusted_proxy_count=1)
    url = "/api/packages/requests/recent"
    # The client-controlled left part of the header is ignored; the proxy-appended entry counts.
    for spoof in ("1.1.1.1", "2.2.2.2"):
        ok = await api.get(url, headers={"X-Forwarded-For": f"{spoof}, 198.51.100.7"})
        assert ok.status == 200
    assert (await api.get(url, headers={"X-Forwarded-For": "3.3.3.3, 198.51.100.7"})).status == 429
    assert (await api.get(url, headers={"X-Forwarded-For": "198.51.100.8"})).status == 200
    # Without trusted proxies the header is ignored altogether: the socket peer is the client.
    direct = await api_factory(rate_limit_requests=2, trusted_proxy_count=0)
    for n in range(2):
        assert (await direct.get(url, headers={"X-Forwarded-For": f"10.0.0.{n}"})).status == 200
    assert (await direct.get(url, headers={"X-Forwarded-For": "10.0.0.9"})).status == 429


async def test_overrides_raise_or_remove_the_limit(
    seeded: Any, redis: Redis, api_factory: ApiFactory
) -> None:
    api = await api_factory(
        rate_limit_requests=1,
        trusted_proxy_count=1,
        rate_limit_overrides="203.0.113.7=3,10.0.0.0/8=0",
    )
    url = "/api/packages/requests/recent"
    badge_service = [await api.get(url, headers={"X-Forwarded-For": "203.0.113.7"}) for _ in range(4)]
    assert [r.status for r in badge_service] == [200, 200, 200, 429]
    assert badge_service[0].headers["RateLimit-Limit"] == "3"
    internal = [await api.get(url, headers={"X-Forwarded-For": "10.1.2.3"}) for _ in range(5)]
    assert {r.status for r in internal} == {200}
    assert "RateLimit-Limit" not in internal[0].headers  # unlimited
    assert (await api.get(url, headers={"X-Forwarded-For": "192.0.2.1"})).status == 200
    assert (await api.get(url, headers={"X-Forwarded-For": "192.0.2.1"})).status == 429


async def test_concurrent_misses_of_one_body_build_it_once(seeded: Any, api_factory: ApiFactory) -> None:
    """Twenty requests for one body that is in no cache (a day just completed) wait on one build:
    one miss, one set of queries (shared.flight)."""
    api = await api_factory()
    url = "/api/packages/requests/overall"
    async with seeded.acquire() as blocker, blocker.transaction():
        # The build's first query waits behind this lock until every request has arrived.
        await blocker.execute("LOCK TABLE package_index IN ACCESS EXCLUSIVE MODE")
        requests = [asyncio.ensure_future(api.get(url)) for _ in range(20)]

        async def all_joined() -> bool:
            return await metric(api, "pypistats_api_cache_builds_joined_total") == 19

        await wait_until(all_joined, timeout=10, what="19 requests joining the first one's build")
    responses = await asyncio.gather(*requests)
    assert {r.status for r in responses} == {200}
    assert len({await r.read() for r in responses}) == 1
    assert await metric(api, 'pypistats_api_cache_requests_total{result="miss"}') == 1


async def test_right_after_a_new_day_the_previous_body_is_answered_while_the_new_one_is_built(
    seeded: Any, redis: Redis, namespace: str, api_factory: ApiFactory
) -> None:
    """``CACHE_STALE_SECONDS``: after a cache-version bump a request for a body held in memory
    does not wait on PostgreSQL (here: a table locked for the whole test's first half); it gets the
    day before's body, marked to be kept briefly, and the new body once it is built."""
    api = await api_factory(cache_version_refresh_seconds=0.1, cache_stale_seconds=60)
    url = "/api/packages/requests/recent?period=day"
    first = await api.get(url)
    old = await first.read()
    await seeded.execute(
        "UPDATE recent_downloads SET downloads = 1 WHERE package = 'requests' AND period = 'day'"
    )
    assert api.app is not None
    state = api.app[STATE]
    before = state.cache.watcher.version
    async with seeded.acquire() as blocker, blocker.transaction():
        await blocker.execute("LOCK TABLE package_index IN ACCESS EXCLUSIVE MODE")
        await bump_cache_version(redis, CacheKeys(f"{namespace}:"))

        async def new_version_seen() -> bool:
            return state.cache.watcher.version != before

        await wait_until(new_version_seen, timeout=10, what="the API to see the new version")
        stale = await asyncio.wait_for(api.get(url), 5)  # no wait on the locked table
        assert stale.status == 200 and await stale.read() == old
        assert stale.headers["Cache-Control"] == "public, max-age=10"
        assert await metric(api, 'pypistats_api_cache_requests_total{result="stale"}') == 1
        assert len(state.rebuilds) == 1  # the new body is being built, behind the lock

    async def rebuilt() -> bool:
        return bool((await (await api.get(url)).json())["data"] == {"last_day": 1})

    await wait_until(rebuilt, timeout=10, what="the new body")


async def test_the_history_span_is_read_once_per_cache_version(
    seeded: Any, redis: Redis, namespace: str, api_factory: ApiFactory
) -> None:
    """A series reads the first and last complete days once per version (views.SpanCache); an
    unknown package is still a 404, a known one without a row in its window still an empty 200,
    and a new day (a version bump) is seen at once."""
    api = await api_factory(cache_version_refresh_seconds=0.2)
    state = api.server.app[STATE]
    body = await (await api.get("/api/packages/requests/overall")).json()
    last = max(row["date"] for row in body["data"])
    version = state.cache.watcher.current
    assert version is not None and state.spans.get(version.key) is not None
    # The span is now known: these answers read no span, and still check existence when empty.
    response = await api.get("/api/packages/nope/overall")
    assert response.status == 404 and (await response.json())["error"]["parameter"] == "package"
    await seeded.execute(
        "INSERT INTO package_index (package, first_day, last_day) VALUES ('quiet', $1, $1)", END
    )
    quiet = await api.get("/api/packages/quiet/overall")
    assert quiet.status == 200 and (await quiet.json())["data"] == []
    # A new complete day (written without the aggregator) and the version bump that announces it.
    next_day = END + dt.timedelta(days=1)
    await seeded.execute(
        "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors)"
        " VALUES ($1, 'r', 'test', 0, 0, 0)",
        next_day,
    )
    await bump_cache_version(redis, CacheKeys(f"{namespace}:"))

    async def moved() -> bool:
        response = await api.get("/api/packages/nope/overall")  # any series read under the new version
        current = state.cache.watcher.current
        span = state.spans.get(current.key) if current is not None else None
        return response.status == 404 and span is not None and span[1] == next_day

    await wait_until(moved, timeout=10, what="the span of the new version")
    assert last == END.isoformat()


async def test_the_span_is_kept_with_the_body_cache_off(seeded: Any, api_factory: ApiFactory) -> None:
    api = await api_factory(cache_ttl_seconds=0)
    state = api.server.app[STATE]
    assert (await api.get("/api/packages/requests/overall")).status == 200
    version = state.cache.watcher.current
    assert version is not None and state.spans.get(version.key) is not None
    assert (await api.get("/api/packages/nope/overall")).status == 404
