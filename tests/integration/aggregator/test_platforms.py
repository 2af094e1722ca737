"""Platforms and ABIs end to end, edge by edge: hand-made file_downloads rows (platforms.jsonl: four
manylinux spellings of one target, musllinux, macOS, Windows, free-threaded builds, sdists with and
without a file name, no file name, an egg, a wheel name of four parts, an unknown platform, an
upper-case tag, a mirror's download and a dropped python string; and the main fixture day) through
the raw source (the production query on DuckDB), NATS JetStream, the aggregator and the API
(``/platform``, ``/abi`` and their ``__all__``); events of schema version 3 still apply and count
none; compaction keeps both and an open day replaces its day."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from services.api.config import ApiSettings
from services.ingest.channels import Outlet
from shared import series
from shared.db.compaction import compact_month
from shared.db.layout import Dictionary
from shared.events import Counts, PackageDay, Subjects
from tests.integration.aggregator.helpers import api_over_raw_day
from tests.unit.ingest.test_query import DAY, FIXTURES, JSONL, PLATFORM_EDGES, expected

PLATFORMS = FIXTURES / "platforms.jsonl"


@pytest.fixture
async def api(
    new_processor: Any,
    outlet: Outlet,
    db: asyncpg.Pool,
    redis: Redis,
    subjects: Subjects,
    database_url: str,
    redis_url: str,
    tmp_path: Any,
) -> AsyncIterator[TestClient]:
    """The fixture day and the platform edges, ingested from raw rows and aggregated; an API over it."""
    settings = ApiSettings(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        namespace=subjects.namespace,
        db_pool_size=2,
    )
    files = (JSONL, PLATFORMS)
    processor = new_processor(batch_size=50)
    async with api_over_raw_day(processor, outlet, db, settings, tmp_path / "rows", files, DAY, 5) as client:
        yield client


async def by_category(api: TestClient, path: str) -> dict[str, int]:
    response = await api.get(path)
    body = await response.json()
    assert response.status == 200, body
    assert body["type"] == path.split("?")[0].rsplit("/", 1)[-1] + "_downloads"
    assert {r["date"] for r in body["data"]} <= {DAY.isoformat()}
    return {r["category"]: r["downloads"] for r in body["data"]}


async def test_platforms_and_abis_edge_by_edge_through_the_pipeline(api: TestClient) -> None:
    want = {p: {d: c.get(d, {}) for d in PLATFORM_EDGES} for p, c in expected().items()}
    want["numpy"] = PLATFORM_EDGES
    for package, dimensions in want.items():
        for dimension, categories in dimensions.items():
            got = await by_category(api, f"/api/packages/{package}/{dimension}")
            assert got == categories, (package, dimension)
    # each sums to without_mirrors: 18 of numpy's 19 kept rows (one is a mirror's)
    overall = await by_category(api, "/api/packages/numpy/overall")
    assert overall == {"with_mirrors": 19, "without_mirrors": 18}
    for dimension in PLATFORM_EDGES:
        assert sum((await by_category(api, f"/api/packages/numpy/{dimension}")).values()) == 18
    # a package downloaded only by mirrors has no platform, as it has no file type
    assert await by_category(api, "/api/packages/mirror-only/platform") == {}
    # __all__ sums every package's categories
    for dimension in PLATFORM_EDGES:
        total: dict[str, int] = {}
        for dimensions in want.values():
            for category, n in dimensions[dimension].items():
                total[category] = total.get(category, 0) + n
        assert await by_category(api, f"/api/packages/__all__/{dimension}") == total, dimension
    assert (await by_category(api, "/api/packages/__all__/abi"))["cp313t"] == 2


async def test_filters_and_bad_values(api: TestClient) -> None:
    assert await by_category(api, "/api/packages/numpy/platform?platform=manylinux%20x86_64") == {
        "manylinux x86_64": 4
    }
    assert await by_category(api, "/api/packages/numpy/platform?platform=sdist") == {"sdist": 3}
    # platform names are matched exactly (letter case matters); ABIs in any case
    assert await by_category(api, "/api/packages/numpy/platform?platform=MANYLINUX%20X86_64") == {}
    assert await by_category(api, "/api/packages/numpy/abi?abi=CP313T") == {"cp313t": 2}
    assert await by_category(api, "/api/packages/numpy/abi?abi=null") == {"null": 1}
    for query, parameter in (
        ("/platform?platform=" + "x" * 65, "platform"),
        ("/platform?platform=any%0A", "platform"),
        ("/abi?abi=" + "x" * 33, "abi"),
        ("/abi?abi=cp313t%00", "abi"),
        ("/abi?bin=fortnight", "bin"),
    ):
        response = await api.get(f"/api/packages/numpy{query}")
        body = await response.json()
        assert response.status == 400 and body["error"]["parameter"] == parameter, (query, body)
    assert (await api.get("/api/packages/not-a-package/platform")).status == 404
    first = await api.get("/api/packages/numpy/abi")
    again = await api.get("/api/packages/numpy/abi", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304


async def test_version_3_events_still_apply_and_count_no_platform(
    new_processor: Any, db: asyncpg.Pool
) -> None:
    processor = new_processor()
    old = PackageDay(
        schema_version=3, day=DAY, package="old", run_id="r3", source="test",
        counts=Counts(overall={"with_mirrors": 5, "without_mirrors": 4}, file_type={"sdist": 4}),
    )  # fmt: skip
    new = PackageDay(
        day=DAY, package="new", run_id="r4", source="test",
        counts=Counts(
            overall={"with_mirrors": 5, "without_mirrors": 4}, platform={"sdist": 4}, abi={"sdist": 4}
        ),
    )  # fmt: skip
    assert new.schema_version == 4
    written = await processor.write([(old, 1), (new, 2)])
    assert written.applied == 2 and written.rows == 3 + 4
    names = Dictionary()
    assert await series.series_groups(db, names, "old", "platform") == []
    assert await series.series_groups(db, names, "new", "platform") == [("sdist", [(DAY, 4)])]


async def test_compacted_months_keep_platforms_and_an_open_day_replaces_its_day(
    new_processor: Any, db: asyncpg.Pool
) -> None:
    processor = new_processor()
    month = dt.date(2024, 1, 1)

    def day_of(k: int, run: str = "r", free_threaded: int = 1) -> PackageDay:
        return PackageDay(
            day=month + dt.timedelta(days=k), package="pkg", run_id=run, source="test",
            counts=Counts(
                overall={"with_mirrors": 10, "without_mirrors": 10},
                platform={"manylinux x86_64": 10 - k, "Windows amd64": k} if k else {"any": 10},
                abi={"cp313t": free_threaded, "cp313": 10 - free_threaded} if free_threaded else {"cp313": 10},
            ),
        )  # fmt: skip

    await processor.write([(day_of(k), k + 1) for k in range(4)])
    for k in range(4):  # each day complete under the run that wrote it, so compaction folds it
        await db.execute(
            "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors, manifest_seq)"
            " VALUES ($1, 'r', 'test', 1, 3, 1, 100)",
            month + dt.timedelta(days=k),
        )
    names = Dictionary()
    before = {d: await series.series_groups(db, names, "pkg", d) for d in ("platform", "abi")}
    await compact_month(db, month)
    assert await db.fetchval("SELECT count(*) FROM downloads_days") == 0
    after = {d: await series.series_groups(db, names, "pkg", d) for d in ("platform", "abi")}
    assert before == after
    assert dict(after["abi"])["cp313t"] == [(month + dt.timedelta(days=k), 1) for k in range(4)]
    # a late re-ingest of day 2 without free-threaded builds replaces that day whole
    await processor.write([(day_of(2, run="late", free_threaded=0), 200)])
    found = dict(await series.series_groups(db, names, "pkg", "abi"))
    assert found["cp313t"] == [(month + dt.timedelta(days=k), 1) for k in (0, 1, 3)]
    assert dict(found["cp313"])[month + dt.timedelta(days=2)] == 10
