"""The ecosystem page against real PostgreSQL and Redis: ``__all__`` as shares over time, what
changed in the last 30 days, the range and bin links, the page cache, and 400 pages for bad input.

Seeded here (the function-scoped ``db`` fixture): 60 days ending END of two packages whose sum
(``__all__``) has uv rising against pip and Python 3.13 passing 3.12, so the sentences the page
says can be worked out by hand below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.web.app import create_app
from services.web.config import WebSettings
from tests.integration.web.conftest import END, OPENAPI
from tests.integration.web.test_pages import chart_data, current_range, get
from tests.support.seed import Row, seed, with_all

DAYS = 60


def rows_of(package: str, scale: int) -> list[Row]:
    """Day i (0 = oldest): pip 1000 - 10i, uv 100 + 10i, 50 by bandersnatch; Python 3.12
    600 - 5i, 3.13 300 + 5i, 10 unknown; all Linux; times ``scale``."""
    rows: list[Row] = []
    for i in range(DAYS):
        day = END - dt.timedelta(days=DAYS - 1 - i)
        without = 1100 * scale
        rows += [
            (day, package, "overall", "with_mirrors", without + 50 * scale),
            (day, package, "overall", "without_mirrors", without),
            (day, package, "installer", "pip", (1000 - 10 * i) * scale),
            (day, package, "installer", "uv", (100 + 10 * i) * scale),
            (day, package, "installer", "bandersnatch", 50 * scale),
            (day, package, "python_minor", "3.12", (600 - 5 * i) * scale),
            (day, package, "python_minor", "3.13", (300 + 5 * i) * scale),
            (day, package, "python_minor", "null", 10 * scale),
            (day, package, "system", "Linux", without),
        ]
    return rows


@pytest.fixture
async def client(db: asyncpg.Pool, web_settings: WebSettings, redis: object) -> AsyncIterator[TestClient]:
    await seed(db, with_all(rows_of("alpha", 1) + rows_of("beta", 2)))
    app = create_app(web_settings, openapi_document=OPENAPI)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def week_share(category: str, first: int) -> float:
    """The share (%) of ``category`` in the 7 days from day ``first`` (rows_of's numbers)."""
    per_day = {
        "uv": lambda i: 100 + 10 * i,
        "pip": lambda i: 1000 - 10 * i,
        "3.13": lambda i: 300 + 5 * i,
        "3.12": lambda i: 600 - 5 * i,
    }[category]
    whole = 1100 if category in ("uv", "pip") else 910
    return 100 * sum(per_day(i) for i in range(first, first + 7)) / (7 * whole)


async def test_the_page_says_what_changed_and_draws_every_share(client: TestClient) -> None:
    html = await get(client, "/ecosystem")
    then, now = DAYS - 1 - 30 - 6, DAYS - 7  # the weeks ending 30 days before the last day, and on it
    uv = (week_share("uv", then), week_share("uv", now))
    py = (week_share("3.13", then), week_share("3.13", now), week_share("3.12", now))
    assert uv[0] < 50 < uv[1] and py[0] < 50 < py[1]  # both passed in the month
    expected = [
        f"Python 3.13 passed Python 3.12: {py[1]:.0f}% of downloads against {py[2]:.0f}%.",
        f"uv passed pip: {uv[1]:.0f}% of installs against {100 - uv[1]:.0f}%.",
        f"uv's share of installs rose from {uv[0]:.0f}% to {uv[1]:.0f}%.",
        f"Python 3.13's share of downloads rose from {py[0]:.0f}% to {py[1]:.0f}%.",
    ]
    for sentence in expected:
        assert f"<li>{sentence.replace(chr(39), '&#39;')}</li>" in html, sentence
    assert html.index(expected[0].split(":")[0]) < html.index("uv passed pip")
    data = chart_data(html)
    assert data["bin"] == "day" and len(data["dates"]) == DAYS and data["dates"][-1] == END.isoformat()
    charts = {c["id"]: c for c in data["charts"]}
    assert list(charts) == ["installer", "python_minor", "system", "country", "file_type", "ci"]
    installer = {s["category"]: s["values"] for s in charts["installer"]["series"]}
    assert set(installer) == {"pip", "uv"}  # the mirror is left out
    assert installer["uv"][0] == round(100 * 100 / 1100, 2) and installer["uv"][-1] == round(
        100 * 690 / 1100, 2
    )
    assert {s["category"]: s["values"][-1] for s in charts["system"]["series"]} == {"Linux": 100.0}
    assert charts["country"]["series"] == []  # not seeded: an empty chart, no error
    assert all(c["unit"] == "%" and c["kind"] == "stacked" for c in charts.values())
    assert current_range(html) == ["180d"] and 'href="/ecosystem"' in html  # linked from the navigation


async def test_bins_ranges_and_bad_input(client: TestClient) -> None:
    data = chart_data(await get(client, "/ecosystem?bin=week"))
    assert data["bin"] == "week" and data["partial"]
    uv = next(s for s in data["charts"][0]["series"] if s["category"] == "uv")["values"]
    assert uv == sorted(uv)  # a rising share, week by week
    data = chart_data(await get(client, "/ecosystem?range=30d"))
    assert data["show"] == 30
    for bad, what in (
        ("bin=year", "Invalid bin"),
        ("range=7y", "Invalid range"),
        ("lookback=0", "Invalid lookback"),
    ):
        assert what in await get(client, f"/ecosystem?{bad}", status=400)


async def test_the_page_is_cached_under_the_cache_version(client: TestClient, db: asyncpg.Pool) -> None:
    first = await get(client, "/ecosystem")
    await db.execute("DELETE FROM downloads_all")  # a cached page does not read again
    assert await get(client, "/ecosystem") == first
