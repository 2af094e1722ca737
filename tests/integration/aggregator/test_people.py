"""Downloads by people end to end, edge by edge: hand-made file_downloads rows (people.jsonl: every
installer the allowlist keeps out, CI, a NULL installer, a dropped python string; and the main
fixture day) through the raw source, NATS JetStream, the aggregator and the API (``/overall?who=people``
and its ``__all__``, the badge, the rank by people); events of schema version 2 still apply and
count no people; compaction keeps the people of a month and an open day replaces its day."""

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
from tests.unit.ingest.test_query import DAY, FIXTURES, JSONL, expected

PEOPLE = FIXTURES / "people.jsonl"


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
    """The fixture day and the people edges, ingested from raw rows and aggregated; an API over it."""
    settings = ApiSettings(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        namespace=subjects.namespace,
        db_pool_size=2,
    )
    files = (JSONL, PEOPLE)
    processor = new_processor(batch_size=50)
    async with api_over_raw_day(processor, outlet, db, settings, tmp_path / "rows", files, DAY, 5) as client:
        yield client


async def body(api: TestClient, path: str) -> Any:
    response = await api.get(path)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_people_edge_by_edge_through_the_pipeline(api: TestClient, db: asyncpg.Pool) -> None:
    people = {p: c["overall"].get("people", 0) for p, c in expected().items()}
    people["people-edges"] = 4  # pipx, conda, pdm and pip outside CI; nothing else in people.jsonl
    for package, n in people.items():
        got = await body(api, f"/api/packages/{package}/overall?who=people")
        want = [{"category": "people", "date": DAY.isoformat(), "downloads": n}] if n else []
        assert got == {"data": want, "package": package, "type": "overall_downloads"}, package
    # without who (or who=all) the answer is pypistats.org's two categories, as before
    plain = await body(api, "/api/packages/people-edges/overall")
    assert [r["category"] for r in plain["data"]] == ["with_mirrors", "without_mirrors"]
    assert await body(api, "/api/packages/people-edges/overall?who=all") == plain
    everyone = await body(api, "/api/packages/__all__/overall?who=people")
    assert everyone["data"] == [
        {"category": "people", "date": DAY.isoformat(), "downloads": sum(people.values())}
    ]
    bad = await api.get("/api/packages/requests/overall?who=people&mirrors=true")
    assert bad.status == 400 and (await bad.json())["error"]["parameter"] == "who"
    # the badge counts people, and the rank by people orders by them (requests 5 > the rest)
    assert (
        await db.fetchval(
            "SELECT downloads FROM recent_downloads WHERE package = 'requests' AND period = 'people_month'"
        )
        == 5
    )
    shields = await body(api, "/api/packages/requests/shields.json?who=people&period=week")
    assert (shields["label"], shields["message"]) == ("people downloads/week", "5")
    ranked = await body(api, "/api/packages/people-edges/shields.json?metric=rank&who=people")
    assert ranked["message"] == "#2 \u00b7 top 50%"  # of the 4 packages with people downloads
    assert ranked["label"] == "rank by people/month"


async def test_version_2_events_still_apply_and_count_no_people(new_processor: Any, db: asyncpg.Pool) -> None:
    processor = new_processor()
    old = PackageDay(
        schema_version=2, day=DAY, package="old", run_id="r2", source="test",
        counts=Counts(overall={"with_mirrors": 5, "without_mirrors": 4}, installer={"pip": 5}),
    )  # fmt: skip
    new = PackageDay(
        day=DAY, package="new", run_id="r3", source="test",
        counts=Counts(overall={"with_mirrors": 5, "without_mirrors": 4, "people": 3}, installer={"pip": 5}),
    )  # fmt: skip
    assert new.schema_version == 4
    written = await processor.write([(old, 1), (new, 2)])
    assert written.applied == 2 and written.rows == 3 + 4  # people is one more overall row
    rows = await db.fetch("SELECT package, people FROM downloads_days WHERE day = $1 ORDER BY package", DAY)
    assert [(r["package"], r["people"]) for r in rows] == [("new", 3), ("old", 0)]


async def test_compacted_months_keep_people_and_an_open_day_replaces_its_day(
    new_processor: Any, db: asyncpg.Pool
) -> None:
    processor = new_processor()
    month = dt.date(2024, 1, 1)

    def day_of(k: int, people: int, run: str = "r") -> PackageDay:
        return PackageDay(
            day=month + dt.timedelta(days=k), package="pkg", run_id=run, source="test",
            counts=Counts(overall={"with_mirrors": 10 + k, "without_mirrors": 8 + k, "people": people}),
        )  # fmt: skip

    await processor.write([(day_of(k, k + 1), k + 1) for k in range(5)])
    for k in range(5):  # each day complete under the run that wrote it, so compaction folds it
        await db.execute(
            "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors, manifest_seq)"
            " VALUES ($1, 'r', 'test', 1, 3, 1, 100)",
            month + dt.timedelta(days=k),
        )
    names = Dictionary()
    before = await series.series_groups(db, names, "pkg", "overall", "people")
    await compact_month(db, month)
    assert await db.fetchval("SELECT count(*) FROM downloads_days") == 0
    assert await db.fetchval("SELECT count(*) FROM downloads_months") == 1
    after = await series.series_groups(db, names, "pkg", "overall", "people")
    assert before == after == [("people", [(month + dt.timedelta(days=k), k + 1) for k in range(5)])]
    # the two categories of pypistats.org read the same block and still leave people out
    plain = await series.series_groups(db, names, "pkg", "overall")
    assert [c for c, _ in plain] == ["with_mirrors", "without_mirrors"]
    many = await series.series_many(db, names, ["pkg"], "overall", "people")
    assert [p.downloads for p in many["pkg"]] == [1, 2, 3, 4, 5]
    # a late re-ingest of day 3 without people replaces that day whole, people included
    await processor.write([(day_of(2, 0, run="late"), 200)])
    found = await series.series_groups(db, names, "pkg", "overall", "people")
    assert found == [("people", [(month + dt.timedelta(days=k), k + 1) for k in (0, 1, 3, 4)])]
