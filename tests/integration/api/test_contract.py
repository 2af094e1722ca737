"""contracts.md §1, row by row, against real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from xml.etree import ElementTree

from aiohttp.test_utils import TestClient

from tests.integration.api.conftest import DAYS, END, PACKAGES, recent_expected, without_mirrors
from tests.support.seed import package_rows, write_rows

ENDPOINTS = ("recent", "overall", "python_major", "python_minor", "system")


async def get_json(api: TestClient, url: str, status: int = 200) -> Any:
    response = await api.get(url)
    text = await response.text()
    assert response.status == status, text
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(text)
    assert text == json.dumps(body, sort_keys=True, separators=(",", ":")), "keys sorted at every level"
    return body


def assert_error(body: Any, status: int, parameter: str | None) -> None:
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"].get("parameter") == parameter


async def test_recent_all_periods_and_one_period(api: TestClient) -> None:
    body = await get_json(api, "/api/packages/requests/recent")
    assert body == {"data": recent_expected("requests"), "package": "requests", "type": "recent_downloads"}
    for period in ("day", "week", "month"):
        one = await get_json(api, f"/api/packages/requests/recent?period={period}")
        assert one["data"] == {f"last_{period}": recent_expected("requests")[f"last_{period}"]}


async def test_client_style_query_and_non_normalised_names(api: TestClient) -> None:
    body = await get_json(api, "/api/packages/My_Package/recent?&period=day")
    assert body["package"] == "my-package"
    assert body["data"] == {"last_day": without_mirrors("my-package", END)}
    body = await get_json(api, "/api/packages/my.PACKAGE/overall")
    assert body["package"] == "my-package"


async def test_overall_both_categories_ordered_and_mirrors_filter(api: TestClient) -> None:
    body = await get_json(api, "/api/packages/requests/overall")
    assert body["type"] == "overall_downloads" and body["package"] == "requests"
    rows = body["data"]
    assert len(rows) == 2 * DAYS
    keys = [(r["category"], r["date"]) for r in rows]
    assert keys == sorted(keys)
    assert rows[0] == {
        "category": "with_mirrors",
        "date": (END - dt.timedelta(days=DAYS - 1)).isoformat(),
        "downloads": PACKAGES["requests"] + 10,
    }
    assert rows[-1] == {
        "category": "without_mirrors",
        "date": END.isoformat(),
        "downloads": without_mirrors("requests", END),
    }
    for value, category in (
        ("true", "with_mirrors"),
        ("false", "without_mirrors"),
        ("False", "without_mirrors"),
    ):
        data = (await get_json(api, f"/api/packages/requests/overall?mirrors={value}"))["data"]
        assert {r["category"] for r in data} == {category} and len(data) == DAYS


async def test_date_filters_are_inclusive(api: TestClient) -> None:
    start, end = END - dt.timedelta(days=5), END - dt.timedelta(days=2)
    for endpoint in ENDPOINTS[1:]:
        data = (await get_json(api, f"/api/packages/requests/{endpoint}?start_date={start}&end_date={end}"))[
            "data"
        ]
        assert data and {r["date"] for r in data} == {
            (start + dt.timedelta(days=k)).isoformat() for k in range(4)
        }
    only_start = (await get_json(api, f"/api/packages/requests/overall?mirrors=false&start_date={END}"))[
        "data"
    ]
    assert only_start == [
        {
            "category": "without_mirrors",
            "date": END.isoformat(),
            "downloads": without_mirrors("requests", END),
        }
    ]


async def test_series_answer_complete_days_only(api: TestClient, seeded: Any) -> None:
    """Rows of a day still being aggregated (written, the day not complete yet) are not answered,
    with or without end_date, until the day is complete; ``bin=`` (empty) is the daily series."""
    await write_rows(seeded, package_rows("requests", 7, END + dt.timedelta(days=1), 1), run_id="in-progress")
    for url in (
        "/api/packages/requests/overall",
        f"/api/packages/requests/overall?end_date={END + dt.timedelta(days=5)}",
        f"/api/packages/requests/python_minor?start_date={END}&bin=",
    ):
        data = (await get_json(api, url))["data"]
        assert data and max(r["date"] for r in data) == END.isoformat(), url
    monthly = (
        await get_json(api, "/api/packages/requests/overall?mirrors=false&start_date=2026-03-01&bin=month")
    )["data"]
    assert monthly == [
        {"category": "without_mirrors", "date": "2026-03-01", "partial": False,
         "downloads": sum(without_mirrors("requests", dt.date(2026, 3, d)) for d in range(1, 32))}
    ]  # fmt: skip


BREAKDOWNS = (
    ("python_major", "", {"2", "3", "null"}),
    ("python_major", "version=3", {"3"}),
    ("python_major", "version=null", {"null"}),
    ("python_major", "version=4", set()),
    ("python_minor", "", {"2.7", "3.11", "3.12", "null"}),
    ("python_minor", "version=3.12", {"3.12"}),
    ("python_minor", "version=NULL", {"null"}),
    ("system", "", {"Darwin", "Linux", "Windows", "other", "null"}),
    ("system", "os=linux", {"Linux"}),
    ("system", "os=WINDOWS", {"Windows"}),
    ("system", "os=Other", {"other"}),
    ("system", "os=null", {"null"}),
)


async def test_breakdowns_and_their_filters(api: TestClient) -> None:
    for endpoint, query, categories in BREAKDOWNS:
        body = await get_json(api, f"/api/packages/requests/{endpoint}?{query}")
        assert body["type"] == f"{endpoint}_downloads"
        assert {r["category"] for r in body["data"]} == categories, (endpoint, query)
        keys = [(r["category"], r["date"]) for r in body["data"]]
        assert keys == sorted(keys)
        assert all(isinstance(r["downloads"], int) and r["downloads"] > 0 for r in body["data"])
    linux = (await get_json(api, "/api/packages/requests/system?os=linux"))["data"]
    n = without_mirrors("requests", END)
    assert linux[-1] == {"category": "Linux", "date": END.isoformat(), "downloads": n - n // 3 - 3}


async def test_all_packages_is_the_sum(api: TestClient) -> None:
    body = await get_json(api, "/api/packages/__all__/recent?period=day")
    assert body["package"] == "__all__"
    assert body["data"]["last_day"] == sum(without_mirrors(p, END) for p in PACKAGES)


async def test_unknown_package_is_a_json_404_everywhere(api: TestClient) -> None:
    for endpoint in ENDPOINTS:
        body = await get_json(api, f"/api/packages/no-such-package/{endpoint}", status=404)
        assert_error(body, 404, "package")


async def test_unknown_package_badges_say_so(api: TestClient) -> None:
    """A README embedding the badge of a name we do not know shows "package not found", never a
    broken image; shields.io gets a document it draws as an error."""
    badge = await api.get("/api/packages/No_Such.Package/badge.svg?period=week")
    assert badge.status == 404 and badge.headers["Content-Type"].startswith("image/svg+xml")
    assert badge.headers["Cache-Control"] == "public, max-age=300"
    svg = ElementTree.fromstring(await badge.text())
    ns = {"svg": "http://www.w3.org/2000/svg"}
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and int(svg.attrib["width"]) > 100
    texts = [t.text for t in svg.iterfind(".//svg:text", ns) if "aria-hidden" not in t.attrib]
    assert texts == ["downloads/week", "package not found"]
    assert svg.findtext("svg:title", namespaces=ns) == "no-such-package: package not found"
    assert badge.headers["Access-Control-Allow-Origin"] == "*"
    shields = await api.get("/api/packages/no-such-package/shields.json")
    assert shields.status == 200 and shields.headers["Cache-Control"] == "public, max-age=300"
    assert await shields.json() == {
        "color": "lightgrey", "isError": True, "label": "downloads/month", "message": "package not found",
        "schemaVersion": 1,
    }  # fmt: skip
    # a bad parameter is a badge saying so (tests/integration/api/test_badges.py), and a known
    # package still gets its numbers
    bad = await api.get("/api/packages/nope/badge.svg?period=decade")
    assert bad.status == 400 and bad.headers["Content-Type"].startswith("image/svg+xml")
    assert (await api.get("/api/packages/requests/badge.svg")).status == 200


BAD_PARAMETERS = (
    ("/api/packages/requests/recent?period=year", "period"),
    ("/api/packages/requests/overall?mirrors=maybe", "mirrors"),
    ("/api/packages/requests/overall?start_date=yesterday", "start_date"),
    ("/api/packages/requests/overall?start_date=2026-02-30", "start_date"),
    ("/api/packages/requests/system?end_date=2026-03-01&start_date=2026-03-02", "end_date"),
    ("/api/packages/requests/python_major?version=3.12", "version"),
    ("/api/packages/requests/python_minor?version=three", "version"),
    ("/api/packages/requests/system?os=BeOS", "os"),
    ("/api/top?limit=101", "limit"),
    ("/api/top?limit=0", "limit"),
    ("/api/top?period=year", "period"),
    ("/api/packages/requests/overall?bin=fortnight", "bin"),
    ("/api/packages/requests/version?limit=3&bin=decade", "bin"),
)


async def test_bad_parameters_are_400_naming_the_parameter(
    api: TestClient, redis: Any, namespace: str
) -> None:
    for url, parameter in BAD_PARAMETERS:
        body = await get_json(api, url, status=400)
        assert_error(body, 400, parameter)
    assert [k async for k in redis.scan_iter(match=f"{namespace}:api:*")] == []  # nothing cached


async def test_known_package_without_rows_for_a_filter(api: TestClient, seeded: Any) -> None:
    await seeded.execute(
        "INSERT INTO package_index (package, first_day, last_day) VALUES ('quiet', $1, $1)",
        END - dt.timedelta(days=3),
    )
    await seeded.execute("INSERT INTO recent_downloads VALUES ('quiet', 'month', 7)")
    assert (await get_json(api, "/api/packages/quiet/recent?period=day"))["data"] == {"last_day": 0}
    assert (await get_json(api, "/api/packages/quiet/recent"))["data"] == {
        "last_day": 0,
        "last_month": 7,
        "last_week": 0,
    }
    assert (await get_json(api, "/api/packages/quiet/overall"))["data"] == []
    assert (await get_json(api, "/api/packages/requests/overall?start_date=2020-01-01&end_date=2020-01-02"))[
        "data"
    ] == []


async def test_headers_cors_cache_control_etag_and_304(api: TestClient) -> None:
    response = await api.get("/api/packages/requests/overall")
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    etag = response.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{24}"', etag)
    max_age = int(re.fullmatch(r"public, max-age=(\d+)", response.headers["Cache-Control"]).group(1))  # type: ignore[union-attr]
    expected_update = dt.datetime.combine(END + dt.timedelta(days=2), dt.time(1, 30), tzinfo=dt.UTC)
    overdue = dt.datetime.now(dt.UTC) > expected_update
    assert (
        max_age == 300
        if overdue
        else 0 < max_age <= (expected_update - dt.datetime.now(dt.UTC)).total_seconds() + 1
    )
    for header in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        assert int(response.headers[header]) >= 0
    again = await api.get("/api/packages/requests/overall", headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag and again.headers["Access-Control-Allow-Origin"] == "*"
    assert await again.read() == b""
    other = await api.get("/api/packages/requests/overall?mirrors=true", headers={"If-None-Match": etag})
    assert other.status == 200 and other.headers["ETag"] != etag
    error = await api.get("/api/packages/nope/recent")
    assert error.headers["Access-Control-Allow-Origin"] == "*" and "RateLimit-Remaining" in error.headers


async def test_cors_preflight_allows_conditional_requests(api: TestClient) -> None:
    preflight = await api.options(
        "/api/packages/requests/overall",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "if-none-match"},
    )  # fmt: skip
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "if-none-match" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert (await api.options("/health")).status == 405


async def test_max_age_runs_until_the_next_expected_update(api_factory: Any, seeded: Any, redis: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    await seeded.execute(
        "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors) VALUES ($1, 'x', 'seed', 0, 0, 0)",
        now.date() - dt.timedelta(days=1),
    )
    api = await api_factory(update_time_utc="01:30")
    response = await api.get("/api/packages/requests/recent")
    expected = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(1, 30), tzinfo=dt.UTC)
    max_age = int(response.headers["Cache-Control"].rsplit("=", 1)[1])
    assert abs(max_age - (expected - now).total_seconds()) < 5


async def test_top_status_openapi_and_badges(api: TestClient) -> None:
    top = await get_json(api, "/api/top?period=week&limit=1")
    assert top == {
        "data": [{"downloads": recent_expected("requests")["last_week"], "package": "requests", "rank": 1}],
        "limit": 1,
        "period": "week",
        "type": "top_packages",
    }
    assert [r["package"] for r in (await get_json(api, "/api/top"))["data"]] == ["requests", "my-package"]
    status = await get_json(api, "/api/status")
    assert status["type"] == "status"
    assert status["data"]["last_complete_day"] == END.isoformat()
    assert status["data"]["packages"] == 2
    assert status["data"]["last_run"]["run_id"] == "seed"
    doc = await get_json(api, "/api/openapi.json")
    assert doc["openapi"] == "3.1.0" and "/api/packages/{package}/recent" in doc["paths"]
    shields = await get_json(api, "/api/packages/Requests/shields.json?period=week")
    assert shields == {"color": "blue", "label": "downloads/week", "message": "7.3k", "schemaVersion": 1}
    badge = await api.get("/api/packages/requests/badge.svg")
    assert badge.status == 200 and badge.headers["Content-Type"].startswith("image/svg+xml")
    svg = await badge.text()
    assert ">downloads/month<" in svg and ">31k<" in svg and svg.startswith("<svg ")


async def test_no_day_complete_yet(api_factory: Any, db: Any, redis: Any) -> None:
    api = await api_factory()
    assert_error(await get_json(api, "/api/packages/__all__/recent", status=404), 404, "package")
    status = await get_json(api, "/api/status")
    assert status["data"] == {"last_complete_day": None, "last_run": None, "packages": 0}
    assert (await get_json(api, "/api/top"))["data"] == []
