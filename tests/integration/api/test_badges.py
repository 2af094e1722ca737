"""Badges end to end against the seeded store: every option, caching for CDNs, their own rate
limit, and a well-formed badge for every failure (unknown package, bad parameter, outage)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.etree import ElementTree

from aiohttp.test_utils import TestClient

from services.api import badges
from shared.web import PG_POOL
from tests.integration.api.conftest import DAYS, END, PACKAGES, ApiFactory, recent_expected, without_mirrors
from tests.support.seed import package_rows, people_rows, seed, with_all

NS = "{http://www.w3.org/2000/svg}"
BASE = "/api/packages/requests"


def texts(svg: str) -> list[str | None]:
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return [t.text for t in root.iter(f"{NS}text") if "aria-hidden" not in t.attrib]


def fills(svg: str) -> list[str]:
    return [r.attrib["fill"] for r in ElementTree.fromstring(svg).iter(f"{NS}rect") if "fill" in r.attrib]


def days_back(n: int) -> list[dt.date]:
    return [END - dt.timedelta(days=k) for k in range(min(n, DAYS))]


async def svg_of(api: TestClient, query: str, status: int = 200) -> str:
    response = await api.get(f"{BASE}/badge.svg{query}")
    text = await response.text()
    assert response.status == status, text[:300]
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    return text


async def test_periods_units_versions_and_labels(api: TestClient) -> None:
    month = recent_expected("requests")["last_month"]
    every = sum(without_mirrors("requests", d) for d in days_back(DAYS))
    assert texts(await svg_of(api, "")) == ["downloads/month", badges.compact(month)]
    assert texts(await svg_of(api, "?period=week")) == [
        "downloads/week",
        badges.compact(recent_expected("requests")["last_week"]),
    ]
    assert texts(await svg_of(api, "?period=year&units=full")) == ["downloads/year", f"{every:,}"]
    assert texts(await svg_of(api, "?period=total&units=none")) == ["downloads", str(every)]
    # versions: 2.31.0 is n // 3 of each day's n downloads (tests/support/seed.py)
    n = [without_mirrors("requests", d) for d in days_back(30)]
    assert texts(await svg_of(api, "?version=2.31.0&units=none")) == [
        "downloads 2.31.0/month",
        str(sum(x // 3 for x in n)),
    ]
    assert texts(await svg_of(api, "?version=2.*&units=none")) == ["downloads 2.*/month", str(sum(n))]
    assert texts(await svg_of(api, "?version=3.*")) == ["downloads 3.*/month", "0"]
    # label, colours, styles
    assert texts(await svg_of(api, "?label=installs")) == ["installs", badges.compact(month)]
    assert texts(await svg_of(api, "?label=")) == [badges.compact(month)]
    coloured = await svg_of(api, "?color=brightgreen&label_color=ff0000")
    assert fills(coloured)[:3] == ["#fff", "#ff0000", "#4c1"]
    loud = await svg_of(api, "?style=for-the-badge")
    assert texts(loud) == ["DOWNLOADS/MONTH", badges.compact(month).upper()]
    assert 'height="28"' in loud
    for style in badges.STYLES:
        assert texts(await svg_of(api, f"?style={style}"))[-1] is not None
    shields = await (
        await api.get(
            f"{BASE}/shields.json?period=total&units=full&style=flat-square&color=green&label_color=555"
        )
    ).json()
    assert shields == {
        "color": "green", "label": "downloads", "labelColor": "555", "message": f"{every:,}",
        "schemaVersion": 1, "style": "flat-square",
    }  # fmt: skip


async def test_rank_badge(api: TestClient) -> None:
    assert texts(await svg_of(api, "?metric=rank")) == ["rank/month", "#1 \u00b7 top 50%"]
    mine = await api.get("/api/packages/my-package/badge.svg?metric=rank")
    assert texts(await mine.text()) == ["rank/month", "#2 \u00b7 top 100%"]


async def test_cdn_headers_etag_and_304(api: TestClient) -> None:
    first = await api.get(f"{BASE}/badge.svg?period=week&style=social")
    control = first.headers["Cache-Control"]
    assert control.startswith("public, max-age=") and int(control.split("max-age=")[1].split(",")[0]) > 0
    assert "stale-while-revalidate=86400" in control and "stale-if-error=604800" in control
    again = await api.get(
        f"{BASE}/badge.svg?period=week&style=social", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status == 304 and again.headers["ETag"] == first.headers["ETag"]
    assert "stale-if-error" in again.headers["Cache-Control"]
    other = await api.get(
        f"{BASE}/badge.svg?period=day&style=social", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert other.status == 200 and other.headers["ETag"] != first.headers["ETag"]


async def test_every_failure_is_a_badge(api: TestClient) -> None:
    unknown = await api.get("/api/packages/nothing-here/badge.svg?period=year&style=flat-square")
    assert unknown.status == 404 and texts(await unknown.text()) == ["downloads/year", "package not found"]
    assert unknown.headers["Cache-Control"] == "public, max-age=300"
    for query, parameter in (
        ("?period=decade", "period"),
        ("?color=%3Cscript%3E", "color"),
        ("?who=bots", "who"),
    ):
        bad = await svg_of(api, query, status=400)
        assert texts(bad) == ["downloads", f"bad {parameter}"], query
    hostile = await api.get("/api/packages/%3Cscript%3Ealert(1)%3C%2Fscript%3E/badge.svg")
    assert hostile.status == 400 and texts(await hostile.text()) == ["downloads", "bad package"]
    shields = await api.get(f"{BASE}/shields.json?units=metric")
    assert shields.status == 200
    assert await shields.json() == {
        "color": "lightgrey", "isError": True, "label": "downloads", "message": "bad units", "schemaVersion": 1,
    }  # fmt: skip


async def test_an_outage_is_a_badge_too(api: TestClient) -> None:
    await api.server.app[PG_POOL].close()  # PostgreSQL gone: nothing cached yet for these
    down = await api.get(f"{BASE}/badge.svg?period=year")
    assert down.status == 503 and down.headers["Content-Type"].startswith("image/svg+xml")
    assert texts(await down.text()) == ["downloads/year", "unavailable"]
    assert down.headers["Retry-After"] == "60" and down.headers["Cache-Control"] == "public, max-age=60"
    shields = await api.get(f"{BASE}/shields.json?period=year")
    assert shields.status == 200 and (await shields.json())["isError"] is True


async def test_badges_have_their_own_rate_limit(seeded: Any, redis: Any, api_factory: ApiFactory) -> None:
    api = await api_factory(rate_limit_requests=2, badge_rate_limit_requests=3, trusted_proxy_count=1)
    who = {"X-Forwarded-For": "198.51.100.20"}
    answers = [await api.get(f"{BASE}/badge.svg", headers=who) for _ in range(4)]
    assert [r.status for r in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    refused = answers[3]
    assert (
        refused.headers["Content-Type"].startswith("image/svg+xml")
        and int(refused.headers["Retry-After"]) > 0
    )
    assert texts(await refused.text()) == ["downloads", "rate limited"]
    shields = await api.get(f"{BASE}/shields.json", headers=who)
    assert shields.status == 200 and (await shields.json())["message"] == "rate limited"
    # the JSON API's own limit is untouched by the badges
    json_answers = [await api.get(f"{BASE}/recent", headers=who) for _ in range(3)]
    assert [r.status for r in json_answers] == [200, 200, 429]
    assert json_answers[0].headers["RateLimit-Limit"] == "2"


async def test_people_badges_and_rank(db: Any, redis: Any, api_factory: ApiFactory) -> None:
    """who=people counts the overall category people (n // 2 a day here), in every period,
    compacted months included; the rank by people reads its own ranking."""
    rows = [
        r
        for p, base in PACKAGES.items()
        for r in package_rows(p, base, END, DAYS) + people_rows(p, base, END, DAYS)
    ]
    await seed(db, with_all(rows))
    api = await api_factory()
    people = [(PACKAGES["requests"] + DAYS - 1 - k) // 2 for k in range(DAYS)]  # newest first
    assert texts(await svg_of(api, "?who=people&units=none")) == [
        "people downloads/month",
        str(sum(people[:30])),
    ]
    assert texts(await svg_of(api, "?who=people&period=day&units=none")) == [
        "people downloads/day",
        str(people[0]),
    ]
    assert texts(await svg_of(api, "?who=people&period=total&units=none")) == [
        "people downloads",
        str(sum(people)),
    ]
    assert texts(await svg_of(api, "?who=people&metric=rank")) == [
        "rank by people/month",
        "#1 \u00b7 top 50%",
    ]
    bad = await svg_of(api, "?who=people&version=2.*", status=400)
    assert texts(bad) == ["downloads", "bad version"]
    totals = await (await api.get(f"{BASE}/totals")).json()
    assert totals["data"]["rank"] == {
        "last_month": {"of": 2, "rank": 1, "top_percent": 50.0},
        "people_last_month": {"of": 2, "rank": 1, "top_percent": 50.0},
    }
