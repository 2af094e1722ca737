"""The package page, its CSV and the compare page over two years of history (issue 20): every
range, weekly and monthly bins summed exactly with their partial first and last bins, the log
axis in the URL, the all-time card, "history from" in the footer, and 400 pages for bad input.

Seeded once for the module (two years of rows take seconds to write): ``requests`` every day of
730 (2024-11-25, a Monday, to 2026-11-24, a Tuesday) with ``100 + i`` downloads without mirrors
on day i, and ``django`` on its last 400 days. No test here takes the function-scoped ``db``
fixture, which would empty the tables under the others.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from services.web import fakepypi
from services.web.app import create_app
from shared import bins
from tests.conftest import DATA_TABLES
from tests.integration.web.conftest import END, OPENAPI, settings
from tests.integration.web.test_pages import chart_data, current_range, get, offered
from tests.support.seed import package_rows, seed, with_all
from tests.support.servers import unique_name

pytestmark = pytest.mark.asyncio(loop_scope="module")

DAYS = 730
FIRST = END - dt.timedelta(days=DAYS - 1)
ONE_DAY = dt.timedelta(days=1)


def downloads(day: dt.date) -> int:
    """requests' downloads without mirrors on ``day`` (tests/support/seed.package_rows)."""
    return 100 + (day - FIRST).days


def expected_bins(start: dt.date, bin: bins.Bin) -> tuple[list[str], list[int], set[str]]:
    """Bins of ``start..END`` counted here day by day: first days, sums, the partial ones."""
    sums: dict[dt.date, int] = {}
    day = start
    while day <= END:
        key = bins.bin_start(day, bin)
        sums[key] = sums.get(key, 0) + downloads(day)
        day += ONE_DAY
    partial = {k.isoformat() for k in sums if k < start or bins.bin_last(k, bin) > END}
    return [k.isoformat() for k in sums], list(sums.values()), partial


@pytest.fixture(scope="module")
def module_namespace() -> str:
    return unique_name("history")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def long_client(database_url: str, redis_url: str, module_namespace: str) -> AsyncIterator[TestClient]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    await pool.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " RESTART IDENTITY CASCADE")
    await pool.execute("SELECT drop_year_partitions_before('downloads_months', 'infinity')")  # as ``db`` does
    rows = package_rows("requests", 100, END, days=DAYS) + package_rows("django", 40, END, days=400)
    await seed(pool, with_all(rows))
    await pool.close()
    pypi = TestServer(fakepypi.create_app({}))
    await pypi.start_server()
    app = create_app(
        settings(database_url, redis_url, module_namespace, str(pypi.make_url("")).rstrip("/")),
        openapi_document=OPENAPI,
    )
    try:
        async with TestClient(TestServer(app)) as client:
            yield client
    finally:
        await pypi.close()
        redis = Redis.from_url(redis_url)
        keys = [k async for k in redis.scan_iter(match=f"{module_namespace}:*", count=500)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def series(data: dict[str, Any], chart: str = "overall", category: str = "without_mirrors") -> list[int]:
    found = next(c for c in data["charts"] if c["id"] == chart)
    values: list[int] = next(s["values"] for s in found["series"] if s["category"] == category)
    return values


@pytest.mark.parametrize(
    ("query", "key", "days", "bin"),
    [
        ("", "180d", 180, "day"),
        ("?range=30d", "30d", 30, "day"),
        ("?range=90d", "90d", 90, "day"),
        ("?range=180d", "180d", 180, "day"),
        ("?range=1y", "1y", 365, "week"),
        ("?range=2y", "2y", 730, "week"),
        ("?range=5y", "5y", 730, "week"),  # reaches before the first day: what is kept, by its length
        ("?range=all", "all", 730, "week"),
        ("?lookback=45", "45d", 45, "day"),
        ("?lookback=400", "400d", 400, "week"),
        ("?lookback=1000", "1000d", 730, "week"),
    ],
)
async def test_every_range_draws_its_days_in_its_bin(
    long_client: TestClient, query: str, key: str, days: int, bin: bins.Bin
) -> None:
    html = await get(long_client, "/packages/requests" + query)
    data = chart_data(html)
    assert current_range(html) == [key]
    assert data["bin"] == bin
    start = END - dt.timedelta(days=days - 1)
    if bin == "day":
        # a daily page carries at least 180 days; it draws the last `show` of them
        assert data["show"] == days and len(data["dates"]) == max(days, 180)
        assert series(data)[-days:] == [downloads(start + i * ONE_DAY) for i in range(days)]
        assert data["partial"] == {}
    else:
        dates, sums, partial = expected_bins(start, bin)
        assert data["dates"] == dates and data["show"] == len(dates)
        assert series(data) == sums and set(data["partial"]) == partial
        assert sum(series(data)) == sum(downloads(start + i * ONE_DAY) for i in range(days))
    reaches = days < int(re.sub(r"\D", "", key) or 0) * (365 if key.endswith("y") else 1)
    note = f"reaches before the first day kept: showing the 730 days from {FIRST.isoformat()}"
    assert (note in html) == reaches, key
    # the rolling means only on daily bins; every chart's CSV link follows the range and bin
    assert ('<select class="mean"' in html) == (bin == "day")
    csv_query = "" if key == "180d" else query.replace("?", "")  # the default range: the shortest URL
    assert f'href="/packages/requests/system.csv{"?" + csv_query if csv_query else ""}"' in html


async def test_the_bar_offers_what_fits_in_two_years(long_client: TestClient) -> None:
    html = await get(long_client, "/packages/requests")
    assert offered(html) == ["30d", "90d", "180d", "1y", "2y", "all"]  # 5y would draw what "all" draws
    assert offered(await get(long_client, "/packages/requests?range=5y")) == [
        "30d", "90d", "180d", "1y", "2y", "5y", "all"
    ]  # fmt: skip
    assert f'aria-label="every day kept, since {FIRST.isoformat()}"' in html
    # which links the browser may draw from the page: daily ranges carry their number of days
    assert 'data-range="90d" data-bin="day" data-points="90"' in html
    assert 'data-range="1y" data-bin="week" data-points=""' in html


async def test_weeks_start_on_monday_and_the_partial_ones_are_marked(long_client: TestClient) -> None:
    data = chart_data(await get(long_client, "/packages/requests?range=1y"))
    start = END - dt.timedelta(days=364)  # 2025-11-25, a Tuesday
    assert all(dt.date.fromisoformat(d).weekday() == 0 for d in data["dates"])
    assert data["dates"][0] == "2025-11-24" and data["dates"][-1] == "2026-11-23"
    assert data["partial"] == {"2025-11-24": {"days": 6, "of": 7}, "2026-11-23": {"days": 2, "of": 7}}
    assert series(data)[0] == sum(downloads(start + i * ONE_DAY) for i in range(6))
    assert series(data)[-1] == downloads(END - ONE_DAY) + downloads(END)


async def test_all_by_month_and_month_for_the_whole_history(long_client: TestClient) -> None:
    html = await get(long_client, "/packages/requests?range=all&bin=month")
    data = chart_data(html)
    dates, sums, partial = expected_bins(FIRST, "month")
    assert data["bin"] == "month" and data["dates"] == dates and len(dates) == 25
    assert series(data) == sums
    # 2024-11-25..30 and 2026-11-01..24 are partial
    assert data["partial"] == {"2024-11-01": {"days": 6, "of": 30}, "2026-11-01": {"days": 24, "of": 30}}
    assert "Shaded: partial months 2024-11 (6 of 30 days) and 2026-11 (24 of 30 days)." in html
    bins_current = re.findall(r'<a class="bin active" href="[^"]*" data-bin="(\w+)"', html)
    assert bins_current == ["month"]
    # every dimension is binned the same way: python major's categories add up to the overall line
    majors = next(c for c in data["charts"] if c["id"] == "python_major")
    assert [sum(v) for v in zip(*(s["values"] for s in majors["series"]), strict=True)] == sums


async def test_bin_links_keep_the_range_and_the_range_links_drop_the_bin(long_client: TestClient) -> None:
    html = await get(long_client, "/packages/requests?range=1y&bin=day")
    data = chart_data(html)
    assert data["bin"] == "day" and len(data["dates"]) == 365 and 'class="mean"' in html
    assert 'href="/packages/requests?range=1y" data-bin="week"' in html  # week is a year's own bin
    assert 'href="/packages/requests?range=1y&amp;bin=month" data-bin="month"' in html
    assert 'href="/packages/requests?range=2y" data-range="2y"' in html
    data = chart_data(await get(long_client, "/packages/requests?range=30d&bin=week"))
    assert data["bin"] == "week" and len(data["dates"]) in (5, 6) and data["partial"]


async def test_log_scale_lives_in_the_url(long_client: TestClient) -> None:
    html = await get(long_client, "/packages/requests?range=all&bin=month&log=1")
    assert '<input type="checkbox" class="log" autocomplete="off" checked>' in html
    # every range and bin link keeps it; the CSV links do not need it
    assert 'href="/packages/requests?range=1y&amp;log=1" data-range="1y"' in html
    assert 'href="/packages/requests?log=1" data-range="180d"' in html
    assert 'href="/packages/requests?range=all&amp;log=1" data-bin="week"' in html
    assert 'href="/packages/requests/overall.csv?range=all&amp;bin=month"' in html
    plain = await get(long_client, "/packages/requests?range=all&bin=month&log=0")
    assert '<input type="checkbox" class="log" autocomplete="off">' in plain and "log=1" not in plain


async def test_all_time_card_is_exact_and_says_since_when(long_client: TestClient) -> None:
    html = await get(long_client, "/packages/requests")
    total = sum(100 + i for i in range(DAYS))
    assert f'<span class="num" id="all-time">{total:,}</span>' in html
    assert f'id="all-time-since">since {FIRST.isoformat()}<' in html
    django = await get(long_client, "/packages/django")  # its own first day, not the site's
    since = (END - dt.timedelta(days=399)).isoformat()
    assert f'id="all-time">{sum(40 + i for i in range(400)):,}<' in django and f"since {since}<" in django
    everything = await get(long_client, "/packages/__all__")
    assert f'id="all-time">{total + sum(40 + i for i in range(400)):,}<' in everything


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_csv_follows_the_range_and_the_bin(long_client: TestClient) -> None:
    weekly = parse_csv(await get(long_client, "/packages/requests/overall.csv?range=1y"))
    dates, sums, partial = expected_bins(END - dt.timedelta(days=364), "week")
    assert [r["date"] for r in weekly] == dates
    assert [int(r["without_mirrors"]) for r in weekly] == sums
    assert {r["date"] for r in weekly if r["partial"] == "true"} == partial == {"2025-11-24", "2026-11-23"}
    assert {r["partial"] for r in weekly} == {"true", "false"}
    text = await get(long_client, "/packages/requests/python_minor.csv?range=all&bin=month")
    assert text.splitlines()[0] == "date,partial,2.7,3.11,3.12,null"
    monthly = parse_csv(text)
    assert len(monthly) == 25 and monthly[0]["partial"] == "true" and monthly[1]["partial"] == "false"
    daily = await get(long_client, "/packages/requests/overall.csv?range=30d")
    lines = daily.splitlines()
    assert (
        lines[0] == "date,with_mirrors,without_mirrors,people" and len(lines) == 31
    )  # no partial column by day
    assert lines[-1] == f"{END.isoformat()},{downloads(END) + 10},{downloads(END)},0"  # no people seeded
    # the CSV is the view's window, not the 180 days a daily page carries
    assert len(parse_csv(await get(long_client, "/packages/requests/overall.csv?lookback=3"))) == 3
    assert len(parse_csv(await get(long_client, "/packages/requests/overall.csv"))) == 180


async def test_compare_bins_the_same_way(long_client: TestClient) -> None:
    html = await get(long_client, "/compare?packages=requests,django&range=2y&bin=month&log=1")
    data = chart_data(html)
    dates, sums, _ = expected_bins(FIRST, "month")
    assert data["bin"] == "month" and data["dates"] == dates
    lines = {s["name"]: s["values"] for s in data["charts"][0]["series"]}
    assert lines["requests"] == sums and lines["django"][0] == 0
    assert current_range(html) == ["2y"] and 'class="log" autocomplete="off" checked' in html
    assert 'href="/compare?packages=requests,django&amp;range=5y' not in html


async def test_every_page_says_how_far_back_it_reaches(long_client: TestClient) -> None:
    for path in ("/", "/top", "/about", "/faqs", "/api", "/user", "/compare", "/packages/requests"):
        html = await get(long_client, path)
        assert (
            f'Data through {END.isoformat()} (UTC), history from <span class="history-from">{FIRST.isoformat()}</span>.'
            in html
        ), path
    faqs = await get(long_client, "/faqs")
    assert f"Every day from {FIRST.isoformat()} to {END.isoformat()} (730 days)." in faqs
    assert (
        "This site keeps every day it has read" in faqs
        and "pypistats.org kept only the last 180 days" in faqs
    )
    about = await get(long_client, "/about")
    assert f"We keep every day we have read, from {FIRST.isoformat()} on" in about
    html = await get(long_client, "/packages/nothing-here", status=404)  # error pages too
    assert f'history from <span class="history-from">{FIRST.isoformat()}</span>' in html


async def cache_keys(redis_url: str, namespace: str) -> set[bytes]:
    redis = Redis.from_url(redis_url)
    try:
        return {k async for k in redis.scan_iter(match=f"{namespace}:*", count=500)}
    finally:
        await redis.aclose()


@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        ("range=3y", "range", "range must be one of 30d, 90d, 180d, 1y, 2y, 5y, all"),
        ("range=%3Cscript%3E", "range", "range must be one of"),
        ("bin=year", "bin", "bin must be one of day, week, month"),
        ("bin=", None, None),  # empty is absent
        ("log=yes", "log", "log must be 1 (a logarithmic axis) or 0"),
        ("range=1y&lookback=30", "range", "give either range or lookback, not both"),
        ("lookback=36601", "lookback", "between 1 and 36600"),
    ],
)
async def test_bad_input_is_a_400_page_and_changes_nothing(
    long_client: TestClient,
    redis_url: str,
    module_namespace: str,
    query: str,
    parameter: str | None,
    message: str | None,
) -> None:
    await get(long_client, "/packages/requests")  # something is cached already
    before = await cache_keys(redis_url, module_namespace)
    assert before
    for path in ("/packages/requests", "/packages/requests/overall.csv", "/compare?packages=requests"):
        url = path + ("&" if "?" in path else "?") + query
        if parameter is None:
            await get(long_client, url)
            continue
        response = await long_client.get(url, allow_redirects=False)
        html = await response.text()
        assert response.status == 400 and response.content_type == "text/html", url
        assert f"Invalid {parameter}" in html and message in html and "<script>" not in html
    if parameter is not None:
        assert await cache_keys(redis_url, module_namespace) == before  # nothing built, nothing cached
