"""PostgreSQL stopped (fast shutdown) or killed, then started again, on a server of the test's own.

Never the machine's shared server: tests.support.private_postgres makes one (the read-replica
tests' binaries). While it is away, the api answers a JSON 503 and web a 503 page, both with
``Retry-After``, within a fraction of a second and under concurrent load (no hang, no 500), cached
answers are still served, and ``/ready`` says the database failed; once it is back both answer
200 again on their own within seconds (shared.db.gate). The aggregator, restarted under by
PostgreSQL in the middle of a day, still lands the day exactly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.api.app import create_app as create_api
from services.api.config import ApiSettings
from services.ingest.channels import Outlet
from services.ingest.publisher import publish_day
from services.ingest.sources.synthetic import SyntheticSource
from services.web.app import create_app as create_web
from services.web.config import WebSettings
from shared.db.migrate import migrate
from tests.reliability.support import AggregatorProcess, aggregators, completed, expected, stored, with_all
from tests.support.environment import missing
from tests.support.private_postgres import PrivatePostgres
from tests.support.replication import MissingBinaries
from tests.support.seed import package_rows, seed
from tests.support.seed import with_all as seed_with_all
from tests.support.servers import with_database
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
END = dt.date(2026, 3, 31)
PACKAGES = [f"pkg-{i}" for i in range(30)]
#: Slower than this while PostgreSQL is away counts as a hang (a gate open answers in milliseconds;
#: the first request after the loss pays one refused connection).
FAST_S = 1.5
#: The api and web must answer 200 again within this after PostgreSQL accepts connections.
RECOVERY_S = 10.0


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    try:
        server = PrivatePostgres()
    except MissingBinaries as exc:
        missing("PostgreSQL binaries for a private server", str(exc))
    try:
        yield server.init()
    finally:
        server.close()


@pytest.fixture
async def pg_url(private_pg: PrivatePostgres) -> AsyncIterator[str]:
    """A fresh migrated database on the private server (running again after the last test)."""
    if not private_pg.alive():
        private_pg.start()
    name = f"pypistats_{time.monotonic_ns()}"
    admin = await asyncpg.connect(private_pg.url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
    finally:
        await admin.close()
    url = with_database(private_pg.url, name)
    await migrate(url)
    yield url


@pytest.fixture
async def sites(
    pg_url: str, redis_url: str, nats_url: str, namespace: str
) -> AsyncIterator[tuple[TestClient, TestClient]]:
    """The api and web, in process, on the private server; the rollups of 30 packages seeded."""
    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=2)
    try:
        await seed(
            pool, seed_with_all([r for i, p in enumerate(PACKAGES) for r in package_rows(p, 10 + i, END, 20)])
        )
    finally:
        await pool.close()
    common = dict(
        env="test", database_url=pg_url, redis_url=redis_url, nats_url=nats_url, namespace=namespace
    )
    clients: list[TestClient] = []
    for app in (create_api(ApiSettings(**common, db_pool_size=4)), create_web(WebSettings(**common))):  # type: ignore[arg-type]
        server = TestServer(app)
        await server.start_server()
        client = TestClient(server)
        await client.start_server()
        clients.append(client)
    try:
        yield clients[0], clients[1]
    finally:
        for client in clients:
            await client.close()


async def _get(client: TestClient, path: str) -> tuple[int, str, str | None, float]:
    started = time.monotonic()
    async with client.get(path) as response:
        body = await response.text()
        return response.status, body, response.headers.get("Retry-After"), time.monotonic() - started


async def _all_ok(api: TestClient, web: TestClient, n: int) -> bool:
    answers = [await _get(api, f"/api/packages/{PACKAGES[n % 30]}/python_major"), await _get(web, "/top")]
    return all(status == 200 for status, *_ in answers)


@pytest.mark.parametrize("outage", ["fast shutdown", "killed"])
async def test_api_and_web_answer_503_at_once_while_postgres_is_away_and_recover(
    outage: str, private_pg: PrivatePostgres, sites: tuple[TestClient, TestClient]
) -> None:
    api, web = sites
    cached = f"/api/packages/{PACKAGES[0]}/recent"
    assert (await _get(api, cached))[0] == 200
    assert (await _get(web, f"/packages/{PACKAGES[0]}"))[0] == 200
    assert (await _get(api, "/ready"))[0] == 200
    private_pg.stop_fast() if outage == "fast shutdown" else private_pg.kill()

    # eight api clients and four page clients at once, as the report had it
    paths = [f"/api/packages/{p}/overall" for p in PACKAGES[1:9]]
    answers = await asyncio.gather(
        *(_get(api, p) for p in paths), *(_get(web, f"/packages/{p}") for p in PACKAGES[10:14])
    )
    answers += [await _get(api, f"/api/packages/{p}/system") for p in PACKAGES[20:25]]
    answers += [await _get(web, "/top")]
    for status, body, retry_after, seconds in answers:
        assert status == 503, (status, body[:300])
        assert retry_after is not None and int(retry_after) > 0
        assert seconds < FAST_S, f"answered after {seconds:.2f}s"
    api_body, page = answers[0][1], answers[-1][1]
    assert '"status":503' in api_body and "unavailable" in api_body
    assert page.lstrip().lower().startswith("<!doctype html") and "Temporarily unavailable" in page
    # what needs no database is still served
    assert (await _get(api, cached))[0] == 200
    for client in (api, web):
        status, body, _, seconds = await _get(client, "/ready")
        assert status == 503 and '"database": "failed' in body and seconds < 2.5, (status, body, seconds)

    private_pg.start()
    back = time.monotonic()
    counter = iter(range(10_000))
    await wait_until(
        lambda: _all_ok(api, web, next(counter)), timeout=RECOVERY_S, what="api and web to answer again"
    )
    assert time.monotonic() - back < RECOVERY_S
    assert (await _get(api, "/ready"))[0] == 200 and (await _get(web, "/ready"))[0] == 200


@pytest.mark.parametrize("outage", ["fast shutdown", "killed"])
async def test_aggregator_keeps_exact_totals_through_a_postgres_restart(
    outage: str,
    private_pg: PrivatePostgres,
    pg_url: str,
    outlet: Outlet,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    day = dt.date(2024, 7, 2)
    source = SyntheticSource(2000, seed=23)
    proc = AggregatorProcess({**service_env, "DATABASE_URL": pg_url}, tmp_path, BATCH_SIZE="50")
    with aggregators(proc):
        await wait_until(proc.ready, timeout=30, what="aggregator ready")
        run = await publish_day(outlet, source, day)
        pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=2)
        try:
            await wait_until(lambda: _at_least(pool, day, 300), timeout=30, what="part of the day")
            assert not await pool.fetchval("SELECT count(*) FROM ingest_days WHERE day = $1", day), "too late"
        finally:
            pool.terminate()
        private_pg.stop_fast() if outage == "fast shutdown" else private_pg.kill()
        await wait_until(lambda: _not_ready(proc), timeout=30, what="/ready to report the database down")
        private_pg.start()
        pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=2)
        try:
            await wait_until(lambda: completed(pool, day, run.run_id), timeout=90, what="the day to complete")
            assert await stored(pool, day) == with_all(expected(source.expected_rows(day)))
        finally:
            await pool.close()
        await wait_until(proc.ready, timeout=30, what="aggregator ready again")


async def _at_least(pool: asyncpg.Pool, day: dt.date, n: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM downloads_days WHERE day = $1", day) >= n)


async def _not_ready(proc: AggregatorProcess) -> bool:
    return not await proc.ready()
