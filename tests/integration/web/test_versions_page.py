"""The package page's adoption chart and release markers, against real PostgreSQL, Redis and a fake PyPI."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.web import fakepypi
from tests.integration.web.conftest import END
from tests.integration.web.test_pages import chart_data, get
from tests.support.seed import write_rows

FIRST = END - dt.timedelta(days=39)  # the seeded history's first day (conftest: requests, 40 days)


def upload(when: str, yanked: bool = False) -> dict[str, Any]:
    return {"filename": "f.whl", "packagetype": "bdist_wheel", "upload_time_iso_8601": when, "yanked": yanked}


#: requests' releases on the fake PyPI: one before the history kept, two files for 2.31.0 (the
#: first upload counts), a yanked one, a pre-release, and an offset time to normalise.
RELEASES = {
    "1.0.0": [upload("2019-05-01T10:00:00.000000Z")],
    "2.31.0": [upload(f"{FIRST + dt.timedelta(days=5)}T12:00:00.5Z"), upload(f"{FIRST}T09:30:00Z")],
    "2.32.0": [upload(f"{FIRST + dt.timedelta(days=9)}T01:00:00Z", yanked=True)],
    "2.32.3": [upload(f"{FIRST + dt.timedelta(days=20)}T23:30:00-02:00")],
    "3.0.0rc1": [upload(f"{END}T08:00:00Z")],
}


@pytest.fixture
async def pypi() -> AsyncIterator[TestServer]:
    """This module's fake PyPI: requests with releases; slowpkg answering after the client's timeout."""
    body = fakepypi.project("requests", version="2.32.3")
    body["releases"] = RELEASES
    projects = {"requests": body, "slowpkg": fakepypi.project("slowpkg")}
    server = TestServer(fakepypi.create_app(projects, slow=frozenset({"slowpkg"}), slow_seconds=5.0))
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def release_data(html: str) -> list[dict[str, str]] | None:
    match = re.search(r'<script type="application/json" id="release-data">(.*?)</script>', html, re.S)
    if match is None:
        return None
    found: list[dict[str, str]] = json.loads(match.group(1))
    return found


async def test_release_markers_are_pypis_upload_times_since_the_history_kept(client: TestClient) -> None:
    html = await get(client, "/packages/requests")
    assert release_data(html) == [
        {"version": "2.31.0", "time": f"{FIRST}T09:30:00Z"},
        {"version": "2.32.3", "time": f"{FIRST + dt.timedelta(days=21)}T01:30:00Z"},
        {"version": "3.0.0rc1", "time": f"{END}T08:00:00Z"},  # app.js leaves pre-releases unmarked
    ]
    # Cached with the metadata: a second page view does not ask PyPI again, and says the same.
    assert release_data(await get(client, "/packages/requests")) == release_data(html)


async def test_no_markers_when_pypi_is_slow_or_has_no_such_project(client: TestClient) -> None:
    for package in ("slowpkg", "django"):
        html = await get(client, f"/packages/{package}")
        assert "PyPI metadata is unavailable" in html
        assert release_data(html) is None
        assert chart_data(html)["charts"], "the charts are still there"


async def test_adoption_chart_shares_by_minor_and_version(client: TestClient) -> None:
    html = await get(client, "/packages/requests?lookback=30")
    assert 'id="chart-adoption"' in html and 'select class="grouping"' in html
    data = chart_data(html)
    adoption = data["adoption"]
    assert adoption["unit"] == "%" and adoption["kind"] == "lines"
    assert adoption["grouping"] == "minor"  # one major (2) only
    assert [s["name"] for s in adoption["groupings"]["major"]] == ["2.x"]
    assert all(v == 100.0 for v in adoption["groupings"]["major"][0]["values"])
    # tests/support/seed.py: on day i, n = 100 + i split as 2.32.3: n - n//3 - n//5, 2.31.0: n//3, 2.0.0: n//5.
    days = [dt.date.fromisoformat(d) for d in data["dates"]]
    n = [100 + 39 - (END - day).days for day in days]
    minors = {s["category"]: s["values"] for s in adoption["groupings"]["minor"]}
    assert list(minors) == ["2.0", "2.31", "2.32"]
    assert minors["2.31"] == [round(100 * (k // 3) / k, 2) for k in n]
    assert minors["2.0"] == [round(100 * (k // 5) / k, 2) for k in n]
    versions = {s["name"]: s["values"] for s in adoption["groupings"]["version"]}
    assert versions["2.32.3"] == [round(100 * (k - k // 3 - k // 5) / k, 2) for k in n]
    assert adoption["series"] == adoption["groupings"]["minor"]


async def test_adoption_lines_start_at_the_release_and_count_every_version(
    client: TestClient, seeded: dt.date, db: asyncpg.Pool
) -> None:
    """A package going from 1.x to 2.x in the window: 2.x starts on its release day, invalid
    versions count in the total but draw no line, a pre-release counts with its major."""
    release = END - dt.timedelta(days=4)
    rows = []
    for i in range(10):
        day = END - dt.timedelta(days=9 - i)
        versions = {"1.4.0": 60, "null": 20}
        if day >= release:
            versions |= {"2.0.0": 10 * (i - 4), "2.0.0rc1": 5}
        total = sum(versions.values())
        rows += [(day, "majorpkg", "overall", "without_mirrors", total)]
        rows += [(day, "majorpkg", "version", v, n) for v, n in versions.items() if n]
    await write_rows(db, rows)
    await db.execute(
        "INSERT INTO package_index (package, first_day, last_day) VALUES ('majorpkg', $1, $2)",
        END - dt.timedelta(days=9),
        END,
    )
    data = chart_data(await get(client, "/packages/majorpkg?lookback=10"))
    adoption = data["adoption"]
    assert adoption["grouping"] == "major"
    majors = {s["name"]: s["values"] for s in adoption["groupings"]["major"]}
    assert set(majors) == {"1.x", "2.x"}  # null is part of no line
    for k, day in enumerate(data["dates"]):
        i = 9 - (END - dt.date.fromisoformat(day)).days
        if i < 0:  # the page carries more days than its range: none of them before the package
            assert majors["1.x"][k] is None and majors["2.x"][k] is None
            continue
        two = 10 * (i - 4) + 5 if dt.date.fromisoformat(day) >= release else 0
        total = 80 + two
        assert majors["1.x"][k] == round(100 * 60 / total, 2)
        assert majors["2.x"][k] == (round(100 * two / total, 2) if two else None)
