"""Page tests for every route of the web service against real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from aiohttp.test_utils import TestClient

from tests.integration.web.conftest import END

THROUGH = f"Data through {END.isoformat()}"


def chart_data(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S)
    assert match, "no chart data block"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


async def get(client: TestClient, path: str, status: int = 200, **kwargs: Any) -> str:
    response = await client.get(path, allow_redirects=False, **kwargs)
    text = await response.text()
    assert response.status == status, (path, response.status, text[:500])
    return text


async def test_every_page_renders_with_data_through_and_security_headers(client: TestClient) -> None:
    for path in (
        "/",
        "/top",
        "/about",
        "/faqs",
        "/api",
        "/user",
        "/compare",
        "/packages/requests",
        "/search/req",
    ):
        response = await client.get(path, allow_redirects=False)
        html = await response.text()
        assert response.status == 200, (path, html[:300])
        assert response.content_type == "text/html"
        assert THROUGH in html, path
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]
        # no inline script, no inline handler, nothing loaded from another origin
        for tag in re.findall(r"<script[^>]*>", html):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
        assert not re.search(r"\son[a-z]+=", html), path
        assert not re.search(r'(src|href)="(https?:)?//[^"]*\.(js|css)', html), path
        assert " style=" not in html, path


async def test_home_counts_packages_and_links(client: TestClient) -> None:
    html = await get(client, "/")
    assert "4 Python packages" in html
    assert 'href="/top"' in html and 'href="/packages/__all__"' in html


async def test_package_page_numbers_metadata_and_charts(client: TestClient) -> None:
    html = await get(client, "/packages/requests")
    # requests: without_mirrors on the last of 40 days is 100 + 39
    assert '<span class="num" id="last-day">139</span>' in html
    assert f'id="last-week">{sum(range(133, 140)):,}<' in html
    assert f'id="last-month">{sum(range(110, 140)):,}<' in html
    assert "2.32.3" in html and "Apache-2.0" in html
    assert "Python HTTP for &lt;b&gt;Humans&lt;/b&gt;." in html
    assert 'href="/packages/charset-normalizer"' in html and 'href="/packages/idna"' in html
    assert "Optional [socks]" in html and 'href="/packages/pysocks"' in html
    assert "javascript:" not in html
    data = chart_data(html)
    assert len(data["dates"]) == 181 and data["dates"][-1] == END.isoformat()
    assert [c["id"] for c in data["charts"]] == ["overall", "python_major", "python_minor", "system"]
    overall = {s["category"]: s["values"] for s in data["charts"][0]["series"]}
    assert overall["with_mirrors"][-1] == 149 and overall["without_mirrors"][-1] == 139
    assert overall["without_mirrors"][:141] == [0] * 141  # zero-filled before the first of 40 days
    assert overall["without_mirrors"][141] == 100
    minors = [s["category"] for s in data["charts"][2]["series"]]
    assert minors == ["2.7", "3.11", "3.12", "null"]
    systems = [s["category"] for s in data["charts"][3]["series"]]
    assert systems == ["Darwin", "Linux", "Windows", "other", "null"]
    for chart in ("overall", "python_major", "python_minor", "system"):
        assert f'href="/packages/requests/{chart}.csv"' in html
        assert f'id="chart-{chart}"' in html


async def test_all_packages_page_sums_every_package(client: TestClient) -> None:
    html = await get(client, "/packages/__all__")
    data = chart_data(html)
    overall = {s["category"]: s["values"] for s in data["charts"][0]["series"]}
    # last day: requests 139 + requests-oauthlib 14 + django 69 + slowpkg 11
    assert overall["without_mirrors"][-1] == 139 + 14 + 69 + 11
    assert "All packages" in html and "Track" not in html


async def test_lookback_narrows_and_bad_values_are_400_pages(client: TestClient) -> None:
    data = chart_data(await get(client, "/packages/requests?lookback=30"))
    assert len(data["dates"]) == 30 and data["dates"][0] == (END - dt.timedelta(days=29)).isoformat()
    assert len(chart_data(await get(client, "/packages/requests?lookback=180"))["dates"]) == 180
    for bad in ("0", "181", "-1", "abc", "1e3", "9" * 50):
        html = await get(client, f"/packages/requests?lookback={bad}", status=400)
        assert "lookback must be a whole number of days between 1 and 180" in html
        assert "<html" in html


async def test_non_canonical_names_redirect_permanently(client: TestClient) -> None:
    for path, target in (
        ("/packages/Requests", "/packages/requests"),
        ("/packages/requests_OAuthlib", "/packages/requests-oauthlib"),
        ("/packages/Requests?lookback=30", "/packages/requests?lookback=30"),
        ("/packages/Requests/overall.csv", "/packages/requests/overall.csv"),
    ):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 301, path
        assert response.headers["Location"] == target


async def test_unknown_package_is_a_404_page_with_suggestions(client: TestClient) -> None:
    html = await get(client, "/packages/requests-o", status=404)
    assert "Package not found" in html and 'href="/packages/requests-oauthlib"' in html
    html = await get(client, "/packages/zzz-nothing", status=404)
    assert "Package not found" in html and THROUGH in html


async def test_hostile_names_are_400_and_render_as_text(client: TestClient) -> None:
    for raw in (
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "x'%20OR%201=1--",
        "..%2F..%2Fetc%2Fpasswd",
        "a" * 5_000,
        "%FF%FE",
        "%00",
    ):
        response = await client.get(f"/packages/{raw}", allow_redirects=False)
        html = await response.text()
        assert response.status in (400, 404), (raw[:40], response.status)
        assert "<script>alert" not in html
        assert response.content_type == "text/html"
    # past the HTTP parser's line limit aiohttp itself refuses the request
    response = await client.get("/packages/" + "a" * 10_000)
    assert response.status == 400


async def test_pypi_404_and_timeout_still_render_and_are_cached(client: TestClient, pypi: Any) -> None:
    from services.web.fakepypi import HITS

    html = await get(client, "/packages/django")
    assert "PyPI metadata is unavailable" in html and '<span class="num" id="last-day">69</span>' in html
    started = dt.datetime.now()
    html = await get(client, "/packages/slowpkg")
    elapsed = (dt.datetime.now() - started).total_seconds()
    assert "PyPI metadata is unavailable" in html
    assert elapsed < 4.0, "the client did not honour PYPI_TIMEOUT (the fake answers after 5 s)"
    hits = pypi.app[HITS]
    await get(client, "/packages/django")
    await get(client, "/packages/slowpkg")
    await get(client, "/packages/requests")
    await get(client, "/packages/requests")
    assert hits.count("django") == 1 and hits.count("slowpkg") == 1 and hits.count("requests") == 1


async def test_csv_download(client: TestClient) -> None:
    response = await client.get("/packages/requests/python_major.csv?lookback=3")
    assert response.status == 200 and response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = (await response.text()).splitlines()
    assert lines[0] == "date,2,3,null"
    assert len(lines) == 4 and lines[-1].startswith(END.isoformat() + ",")
    await get(client, "/packages/requests/nope.csv", status=404)
    await get(client, "/packages/unknown-pkg/overall.csv", status=404)


async def test_search(client: TestClient) -> None:
    response = await client.get("/search?q=Requests", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/search/Requests"
    response = await client.get("/search?q=", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/"
    html = await get(client, "/search/Requests")
    assert html.index('href="/packages/requests"') < html.index('href="/packages/requests-oauthlib"')
    response = await client.get("/search/DJANGO", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/packages/django"
    html = await get(client, "/search/%25")
    assert "No package matches" in html
    html = await get(client, "/search/%3Cimg%20src%3Dx%3E")
    assert "<img src=x>" not in html
    await get(client, "/search/" + "a" * 300, status=400)


async def test_top(client: TestClient) -> None:
    html = await get(client, "/top")
    for period in ("day", "week", "month"):
        assert f'id="top-{period}"' in html
    day_table = html[html.index('id="top-day"') : html.index('id="top-week"')]
    order = re.findall(r'href="/packages/([^"]+)"', day_table)
    assert order == ["requests", "django", "requests-oauthlib", "slowpkg"]
    assert "__all__" not in day_table


async def test_compare(client: TestClient) -> None:
    html = await get(client, "/compare?packages=Django,requests,nothing-here,requests")
    data = chart_data(html)
    series = data["charts"][0]["series"]
    assert [s["name"] for s in series] == ["django", "requests"]
    assert series[1]["values"][-1] == 139
    assert "Unknown packages" in html and "nothing-here" in html
    many = ",".join(f"p{i}" for i in range(11))
    html = await get(client, f"/compare?packages={many}", status=400)
    assert "At most 10 packages" in html
    await get(client, "/compare?packages=%3Cb%3E", status=400)
    html = await get(client, "/compare")
    assert "chart-data" not in html


async def test_api_docs_rendered_from_openapi(client: TestClient) -> None:
    html = await get(client, "/api")
    assert "pypistats API" in html
    assert "GET /api/packages/{package}/recent" in html
    assert "day | week | month" in html and "<code>package</code> <em>required</em>" in html
    assert "Unknown package" in html


async def test_static_files_are_versioned_and_long_lived(client: TestClient) -> None:
    html = await get(client, "/packages/requests")
    srcs = re.findall(r'<script src="([^"]+)"', html)
    assert any(s.startswith("/static/plotly.min.js?v=") for s in srcs)
    assert any(s.startswith("/static/app.js?v=") for s in srcs)
    for src in srcs:
        response = await client.get(src)
        assert response.status == 200
        assert (
            "immutable" in response.headers["Cache-Control"]
            and "max-age=31536000" in response.headers["Cache-Control"]
        )
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert len(await response.read()) > 1000
    for bad in ("/static/..%2Fapp.py", "/static/app.py", "/static/nope.js"):
        await get(client, bad, status=404)


async def test_errors_are_html_and_ops_routes_answer(client: TestClient) -> None:
    html = await get(client, "/no/such/page", status=404)
    assert "There is no page at this address" in html and "<html" in html
    response = await client.post("/top")
    assert response.status == 405 and response.content_type == "text/html"
    assert (await client.get("/health")).status == 200
    ready = await client.get("/ready")
    assert ready.status == 200 and (await ready.json())["checks"]["database"] == "ok"
    await get(client, "/packages/requests")
    metrics = await get(client, "/metrics")
    assert 'pypistats_web_http_requests_total{method="GET",route="/packages/{name}",status="200"}' in metrics
    assert "pypistats_web_http_request_duration_seconds_bucket" in metrics
    assert 'pypistats_web_cache_requests_total{result="miss"}' in metrics


async def test_api_page_renders_the_real_openapi_document(
    web_settings: Any, seeded: dt.date, redis: Any
) -> None:
    from aiohttp.test_utils import TestServer

    from services.web.app import create_app
    from shared.openapi import openapi_document

    async with TestClient(TestServer(create_app(web_settings))) as real:
        html = await get(real, "/api")
    paths = [p for p in openapi_document()["paths"] if p.startswith("/api/")]
    assert paths
    for path in paths:
        assert path in html, path
    assert "<code>with_mirrors</code>" in html
