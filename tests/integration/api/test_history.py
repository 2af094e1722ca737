"""All of the history (issue 20) against real PostgreSQL and Redis: the default window, any
``start_date`` back to the first day, ``bin=week|month|year`` with partial bins, and ``/totals``.

Two years are stored (730 days ending on a Tuesday in mid-March, the first day a Monday), so the
default window (the last 180 days before the last complete day, 181 dates) is a strict part of what
is kept, and bins are partial at both ends of most windows. The rows are seeded once for the module
(the tests only read; seeding two years takes seconds) and one API serves every test, so the
module runs in one event loop, as the browser tests do.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from services.api.app import create_app
from services.api.config import ApiSettings
from tests.conftest import DATA_TABLES
from tests.integration.api.test_contract import assert_error, get_json
from tests.support.seed import package_rows, seed, with_all
from tests.support.servers import unique_name

pytestmark = pytest.mark.asyncio(loop_scope="module")

END = dt.date(2026, 3, 17)  # a Tuesday, before the end of its month and week
DAYS = 730
FIRST = END - dt.timedelta(days=DAYS - 1)  # 2024-03-18, a Monday
BASES = {"requests": 1000, "my-package": 5}
#: Dimensions stored (the rest of package_rows' dimensions are left out to keep the seed small).
STORED = {"overall", "python_minor", "system", "version"}
SERIES = (
    "overall",
    "python_major",
    "python_minor",
    "system",
    "version",
    "installer",
    "country",
    "file_type",
    "ci",
    "platform",
    "abi",
)


def day_of(k: int) -> dt.date:
    return FIRST + dt.timedelta(days=k)


def without_mirrors(package: str, day: dt.date) -> int:
    return BASES[package] + (day - FIRST).days


def iso(day: dt.date) -> str:
    return day.isoformat()


def bin_of(day: dt.date, bin: str) -> dt.date:
    """The bin's first day, written out here rather than taken from shared.bins."""
    if bin == "week":
        return day - dt.timedelta(days=day.weekday())
    if bin == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def sums_by_bin(daily: list[dict[str, Any]], bin: str) -> dict[tuple[str, str], int]:
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for row in daily:
        sums[(row["category"], iso(bin_of(dt.date.fromisoformat(row["date"]), bin)))] += row["downloads"]
    return dict(sums)


@dataclass(frozen=True)
class History:
    api: TestClient
    redis: Redis
    namespace: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stored(database_url: str, redis_url: str) -> AsyncIterator[History]:
    """The two years seeded into emptied tables (as the ``db`` fixture empties them), and an API."""
    namespace = unique_name("history")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    redis = Redis.from_url(redis_url)
    try:
        await pool.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " RESTART IDENTITY CASCADE")
        # as the ``db`` fixture empties them
        await pool.execute("SELECT drop_year_partitions_before('downloads_months', 'infinity')")
        rows = [r for p, base in BASES.items() for r in package_rows(p, base, END, DAYS) if r[2] in STORED]
        assert await seed(pool, with_all(rows)) == END
        settings = ApiSettings(
            env="test", database_url=database_url, redis_url=redis_url, namespace=namespace, db_pool_size=4
        )
        server = TestServer(create_app(settings))
        await server.start_server(shutdown_timeout=settings.shutdown_timeout_seconds)
        client = TestClient(server)
        await client.start_server()
        try:
            yield History(client, redis, namespace)
        finally:
            await client.close()
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{namespace}:*", count=500)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await pool.close()


@pytest.fixture
def history(stored: History) -> TestClient:
    return stored.api


async def body_of(api: TestClient, url: str) -> bytes:
    response = await api.get(url)
    assert response.status == 200, await response.text()
    return await response.read()


async def test_default_window_is_the_last_181_dates(history: TestClient) -> None:
    window = [iso(END - dt.timedelta(days=k)) for k in range(180, -1, -1)]
    body = await get_json(history, "/api/packages/requests/overall?mirrors=false")
    assert [r["date"] for r in body["data"]] == window
    assert [r["downloads"] for r in body["data"]] == [
        without_mirrors("requests", dt.date.fromisoformat(d)) for d in window
    ]
    for endpoint in SERIES:
        for package in ("requests", "__all__"):
            data = (await get_json(history, f"/api/packages/{package}/{endpoint}"))["data"]
            if endpoint in ("overall", "python_minor", "system") or (
                endpoint == "version" and package == "requests"
            ):
                assert sorted({r["date"] for r in data}) == window, (package, endpoint)
            else:
                assert data == [], (package, endpoint)  # not stored here (or no versions in __all__)
    # end_date alone moves only the end: the start stays 180 days before the last complete day
    ended = (
        await get_json(
            history, f"/api/packages/requests/overall?mirrors=true&end_date={END - dt.timedelta(days=10)}"
        )
    )["data"]
    assert [r["date"] for r in ended] == window[:-10]
    assert (
        await get_json(history, f"/api/packages/requests/overall?end_date={END - dt.timedelta(days=181)}")
    )["data"] == []


async def test_start_date_reaches_back_to_the_first_day(history: TestClient) -> None:
    everything = [iso(day_of(k)) for k in range(DAYS)]
    for start in (FIRST, FIRST - dt.timedelta(days=1), dt.date(2000, 1, 1)):
        data = (await get_json(history, f"/api/packages/requests/overall?mirrors=false&start_date={start}"))[
            "data"
        ]
        assert [r["date"] for r in data] == everything
        assert (
            data[0]["downloads"] == BASES["requests"]
            and data[-1]["downloads"] == BASES["requests"] + DAYS - 1
        )
    both = (await get_json(history, f"/api/packages/__all__/overall?start_date={FIRST}"))["data"]
    assert len(both) == 2 * DAYS
    assert both[0] == {"category": "with_mirrors", "date": iso(FIRST), "downloads": sum(BASES.values()) + 20}
    minor = (
        await get_json(history, f"/api/packages/my-package/python_minor?start_date={FIRST}&version=3.11")
    )["data"]
    assert len(minor) == DAYS and minor[-1]["downloads"] == without_mirrors("my-package", END) // 2
    # end_date past the last complete day stops at it: March is partial though the range covers it
    late = (await get_json(history, f"/api/packages/requests/overall?start_date={END}&end_date=2030-01-01"))[
        "data"
    ]
    assert [r["date"] for r in late] == [iso(END), iso(END)]
    march = (
        await get_json(
            history,
            "/api/packages/requests/overall?mirrors=false&start_date=2026-03-01&end_date=2026-03-31&bin=month",
        )
    )["data"]
    assert march == [
        {"category": "without_mirrors", "date": "2026-03-01", "partial": True,
         "downloads": sum(without_mirrors("requests", dt.date(2026, 3, d)) for d in range(1, 18))}
    ]  # fmt: skip


#: (query, bin) -> the expected (bin start, partial) of every bin, in order.
PARTIAL_BINS = {
    # a window starting mid-month (a Wednesday) and ending on the last complete day (a Tuesday)
    ("start_date=2025-01-15", "week"): [("2025-01-13", True)]
    + [(iso(dt.date(2025, 1, 20) + dt.timedelta(weeks=w)), False) for w in range(60)]
    + [("2026-03-16", True)],
    ("start_date=2025-01-15", "month"): [("2025-01-01", True)]
    + [(f"2025-{m:02}-01", False) for m in range(2, 13)]
    + [("2026-01-01", False), ("2026-02-01", False), ("2026-03-01", True)],
    ("start_date=2025-01-15", "year"): [("2025-01-01", True), ("2026-01-01", True)],
    # the whole history: it starts on a Monday (a full first week) in mid-March
    ("start_date=2000-01-01", "year"): [("2024-01-01", True), ("2025-01-01", False), ("2026-01-01", True)],
    # exactly one month, a Monday to a Wednesday
    ("start_date=2025-12-01&end_date=2025-12-31", "month"): [("2025-12-01", False)],
    ("start_date=2025-12-01&end_date=2025-12-31", "week"): [
        ("2025-12-01", False), ("2025-12-08", False), ("2025-12-15", False), ("2025-12-22", False), ("2025-12-29", True)
    ],
    ("start_date=2025-12-01&end_date=2025-12-31", "year"): [("2025-01-01", True)],
    # the default window starts on 2025-09-18, a Thursday
    ("", "month"): [("2025-09-01", True)]
    + [(f"2025-{m:02}-01", False) for m in range(10, 13)]
    + [("2026-01-01", False), ("2026-02-01", False), ("2026-03-01", True)],
}  # fmt: skip


async def test_bins_sum_the_days_and_mark_partial_bins_at_both_ends(history: TestClient) -> None:
    for (query, bin), expected in PARTIAL_BINS.items():
        for endpoint, package in (
            ("overall", "requests"),
            ("python_minor", "__all__"),
            ("system", "my-package"),
        ):
            url = f"/api/packages/{package}/{endpoint}?{query}"
            daily = (await get_json(history, url))["data"]
            body = await get_json(history, f"{url}&bin={bin}")
            assert body["type"] == f"{endpoint}_downloads" and body["package"] == package
            rows = body["data"]
            keys = [(r["category"], r["date"]) for r in rows]
            assert keys == sorted(keys), "ordered by category, then date"
            assert all(set(r) == {"category", "date", "downloads", "partial"} for r in rows)
            assert {(r["category"], r["date"]): r["downloads"] for r in rows} == sums_by_bin(daily, bin)
            for category in {r["category"] for r in rows}:
                marks = [(r["date"], r["partial"]) for r in rows if r["category"] == category]
                assert marks == expected, (query, bin, endpoint, category)


async def test_full_history_bins_against_hand_sums(history: TestClient) -> None:
    rows = (
        await get_json(
            history, "/api/packages/requests/overall?mirrors=false&start_date=2000-01-01&bin=month"
        )
    )["data"]
    months: dict[str, int] = defaultdict(int)
    for k in range(DAYS):
        months[iso(day_of(k).replace(day=1))] += BASES["requests"] + k
    assert [(r["date"], r["downloads"]) for r in rows] == sorted(months.items())
    assert [r["date"] for r in rows if r["partial"]] == ["2024-03-01", "2026-03-01"]
    assert sum(r["downloads"] for r in rows) == sum(BASES["requests"] + k for k in range(DAYS))
    weeks = (
        await get_json(history, "/api/packages/requests/overall?mirrors=false&start_date=2000-01-01&bin=week")
    )["data"]
    assert weeks[0] == {
        "category": "without_mirrors",
        "date": "2024-03-18",
        "downloads": sum(1000 + k for k in range(7)),
        "partial": False,
    }
    assert weeks[-1] == {
        "category": "without_mirrors",
        "date": "2026-03-16",
        "downloads": 1000 + 728 + 1000 + 729,
        "partial": True,
    }
    assert len(weeks) == 105 and [w["partial"] for w in weeks].count(True) == 1


async def test_version_limit_is_the_top_over_the_range_then_binned(history: TestClient) -> None:
    url = "/api/packages/requests/version?limit=1&start_date=2025-06-10&end_date=2025-08-20"
    daily = (await get_json(history, url))["data"]
    assert {r["category"] for r in daily} == {"2.32.3", "other"}
    for bin in ("week", "month", "year"):
        rows = (await get_json(history, f"{url}&bin={bin}"))["data"]
        assert {(r["category"], r["date"]): r["downloads"] for r in rows} == sums_by_bin(daily, bin)
    months = (await get_json(history, f"{url}&bin=month"))["data"]
    assert [(r["category"], r["date"], r["partial"]) for r in months] == [
        (c, d, p)
        for c in ("2.32.3", "other")
        for d, p in (("2025-06-01", True), ("2025-07-01", False), ("2025-08-01", True))
    ]


async def test_bin_day_is_byte_for_byte_the_daily_body(history: TestClient) -> None:
    for endpoint in SERIES:
        for query in ("", "start_date=2024-06-01&", "version=3.12&end_date=2026-01-01&", "limit=2&"):
            if query.startswith(("version", "limit")) and endpoint not in ("python_minor", "version"):
                continue
            plain = await body_of(history, f"/api/packages/requests/{endpoint}?{query}")
            for bin in ("day", "DAY", ""):
                assert (
                    await body_of(history, f"/api/packages/requests/{endpoint}?{query}bin={bin}") == plain
                ), (endpoint, query, bin)


async def test_totals_are_exact(history: TestClient) -> None:
    def total(package: str, days: int) -> int:
        return sum(without_mirrors(package, END - dt.timedelta(days=k)) for k in range(days))

    ranks = {"requests": 1, "my-package": 2}  # by last month's downloads, of the two
    for package in BASES:
        body = await get_json(history, f"/api/packages/{package.upper()}/totals")
        assert body == {
            "data": {
                "all_time": sum(BASES[package] + k for k in range(DAYS)),
                "first_day": iso(FIRST),
                "last_day": without_mirrors(package, END),
                "last_month": total(package, 30),
                "last_week": total(package, 7),
                "last_year": total(package, 365),
                "rank": {
                    "last_month": {"of": 2, "rank": ranks[package], "top_percent": 50.0 * ranks[package]},
                    "people_last_month": None,  # no downloads by people seeded here
                },
            },
            "package": package,
            "type": "total_downloads",
        }
    everything = (await get_json(history, "/api/packages/__all__/totals"))["data"]
    assert everything["rank"] == {"last_month": None, "people_last_month": None}
    assert everything["all_time"] == sum(BASES[p] * DAYS + DAYS * (DAYS - 1) // 2 for p in BASES)
    assert everything["last_year"] == total("requests", 365) + total("my-package", 365)
    assert everything["first_day"] == iso(FIRST)
    assert_error(await get_json(history, "/api/packages/no-such-package/totals", status=404), 404, "package")
    assert_error(await get_json(history, "/api/packages/a%20b/totals", status=400), 400, "package")


async def test_bad_bin_is_a_400_naming_it(stored: History) -> None:
    bad_values = ("fortnight", "days", "1", "week,month")
    for endpoint in SERIES:
        for bad in bad_values:
            body = await get_json(stored.api, f"/api/packages/requests/{endpoint}?bin={bad}", status=400)
            assert_error(body, 400, "bin")
            assert bad in body["error"]["message"]
    keys = [k.decode() async for k in stored.redis.scan_iter(match=f"{stored.namespace}:api:*")]
    assert not [k for k in keys if k.endswith(bad_values)]  # nothing cached for them


async def test_headers_etag_and_cache_keys_of_bins_and_totals(stored: History) -> None:
    history = stored.api
    first = await history.get("/api/packages/requests/overall?bin=month")
    body = await first.read()
    for url in ("/api/packages/requests/overall?bin=month", "/api/packages/requests/totals"):
        response = await history.get(url)
        assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
        assert re.fullmatch(r"public, max-age=\d+", response.headers["Cache-Control"])
        assert int(response.headers["RateLimit-Remaining"]) >= 0
        etag = response.headers["ETag"]
        again = await history.get(url, headers={"If-None-Match": etag})
        assert again.status == 304 and again.headers["ETag"] == etag and await again.read() == b""
    # the same range under another bin is another cache entry, never the month's body
    year = await body_of(history, "/api/packages/requests/overall?bin=year")
    assert year != body and json.loads(year)["data"][0]["date"] == "2025-01-01"
    assert await body_of(history, "/api/packages/requests/overall?bin=Month") == body
    keys = {k.decode() async for k in stored.redis.scan_iter(match=f"{stored.namespace}:api:*")}
    assert any(k.endswith("overall:requests:None||||month") for k in keys), keys
    assert any(k.endswith("overall:requests:None||||year") for k in keys), keys
    assert any(k.endswith("totals:requests:") for k in keys), keys
