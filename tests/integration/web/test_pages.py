"""Page tests for every route of the web service against real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from services.web.app import create_app
from tests.integration.web.conftest import END, OPENAPI, settings
from tests.support.seed import package_rows, seed, with_all

THROUGH = f"Data through {END.isoformat()}"
#: The seeded history (tests/integration/web/conftest.py): 40 days, requests' whole life.
FIRST = END - dt.timedelta(days=39)


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
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-" not in csp
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["script-src"] == "'self'"
        # only empty <style> elements (Plotly fills its own through the CSSOM): sha256 of ""
        assert directives["style-src"] == "'self' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
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
    # all time: every seeded day (100 + i on day i of 40), from its first day
    assert f'<span class="num" id="all-time">{sum(range(100, 140)):,}</span>' in html
    assert f'id="all-time-since">since {FIRST.isoformat()}<' in html
    data = chart_data(html)
    # the default 180 days reach before the first day kept: the 40 days kept, by day
    assert (
        len(data["dates"]) == 40
        and data["dates"][0] == FIRST.isoformat()
        and data["dates"][-1] == END.isoformat()
    )
    assert data["bin"] == "day" and data["partial"] == {} and data["show"] == 40
    assert [c["id"] for c in data["charts"]] == [
        "overall", "python_major", "python_minor", "system", "version", "installer", "country", "file_type", "ci",
        "platform", "abi",
    ]  # fmt: skip
    overall = {s["category"]: s["values"] for s in data["charts"][0]["series"]}
    assert overall["with_mirrors"][-1] == 149 and overall["without_mirrors"][-1] == 139
    assert overall["without_mirrors"][0] == 100
    minors = [s["category"] for s in data["charts"][2]["series"]]
    assert minors == ["2.7", "3.11", "3.12", "null"]
    systems = [s["category"] for s in data["charts"][3]["series"]]
    assert systems == ["Darwin", "Linux", "Windows", "other", "null"]
    for chart in (
        "overall",
        "python_major",
        "python_minor",
        "system",
        "version",
        "installer",
        "country",
        "ci",
    ):
        assert f'href="/packages/requests/{chart}.csv"' in html
        assert f'id="chart-{chart}"' in html
    by_id = {c["id"]: c for c in data["charts"]}
    # the new dimensions, as seeded for the last day (n = 139): see tests/support/seed.package_rows
    last = {c: {s["category"]: s["values"][-1] for s in by_id[c]["series"]} for c in by_id}
    assert last["version"] == {"2.0.0": 27, "2.31.0": 46, "2.32.3": 66}
    assert last["installer"] == {"bandersnatch": 8, "pip": 105, "uv": 34, "null": 2}
    assert sum(last["installer"].values()) == overall["with_mirrors"][-1]  # mirrors included
    assert last["country"] == {"DE": 69, "US": 70} and by_id["country"]["kind"] == "bar"
    assert list(last["ci"]) == ["true", "false", "null"]  # fixed order, zeros drawn
    assert last["ci"] == {"true": 46, "false": 0, "null": 93}
    labels = {s["category"]: s["name"] for s in by_id["installer"]["series"]}
    assert labels["bandersnatch"] == "bandersnatch (mirror)" and labels["pip"] == "pip"
    # platforms and ABIs (tests/support/seed.platform_rows, n = 139): each adds up to without mirrors
    assert last["platform"] == {
        "manylinux x86_64": 69,
        "macOS arm64": 27,
        "Windows amd64": 23,
        "any": 19,
        "sdist": 1,
    }
    assert last["abi"] == {"cp312": 69, "cp313t": 13, "abi3": 27, "sdist": 1, "cp313": 29}
    assert sum(last["platform"].values()) == sum(last["abi"].values()) == overall["without_mirrors"][-1]
    abi_labels = {s["category"]: s["name"] for s in by_id["abi"]["series"]}
    assert abi_labels["cp313t"] == "cp313t (free-threaded)" and abi_labels["sdist"] == "sdist (source)"
    for chart in ("platform", "abi"):
        assert f'href="/packages/requests/{chart}.csv"' in html and f'id="chart-{chart}"' in html


async def test_all_packages_page_sums_every_package(client: TestClient) -> None:
    html = await get(client, "/packages/__all__")
    data = chart_data(html)
    overall = {s["category"]: s["values"] for s in data["charts"][0]["series"]}
    # last day: requests 139 + requests-oauthlib 14 + django 69 + slowpkg 11
    assert overall["without_mirrors"][-1] == 139 + 14 + 69 + 11
    # __all__'s platforms are requests' (the only package seeded with them)
    by_id = {c["id"]: c for c in data["charts"]}
    assert {s["category"]: s["values"][-1] for s in by_id["abi"]["series"]}["cp313t"] == 13
    assert "All packages" in html and "Track" not in html


def current_range(html: str) -> list[str]:
    return re.findall(r'<a class="range active" href="[^"]*" data-range="([^"]*)"', html)


def offered(html: str) -> list[str]:
    return re.findall(r'<a class="range[^"]*" href="[^"]*" data-range="([^"]*)"', html)


async def test_lookback_picks_the_range_shown_and_bad_values_are_400_pages(client: TestClient) -> None:
    html = await get(client, "/packages/requests?lookback=30")
    data = chart_data(html)
    # the page carries every kept day (40), so the other daily ranges draw without a reload...
    assert len(data["dates"]) == 40 and data["show"] == 30
    # ...and the range shown is the one marked current
    assert current_range(html) == ["30d"]
    assert 'href="/packages/requests?range=30d" data-range="30d" data-bin="day" data-points="30"' in html
    assert 'href="/packages/requests?range=all" data-range="all" data-bin="day" data-points="40"' in html
    assert 'href="/packages/requests/overall.csv?lookback=30"' in html
    # 40 days kept: the longer ranges would draw what "all" draws; the default says what it covers
    default = await get(client, "/packages/requests")
    assert offered(default) == ["30d", "180d", "all"] and current_range(default) == ["180d"]
    assert f"180d reaches before the first day kept: showing the 40 days from {FIRST.isoformat()}" in default
    assert '<p class="range-note" aria-live="polite" hidden>' in html  # 30 days: nothing to say
    odd = await get(client, "/packages/requests?lookback=25")  # a range without a button gets one
    assert current_range(odd) == ["25d"] and offered(odd) == ["25d", "30d", "all"]
    assert chart_data(odd)["show"] == 25
    compare = await get(client, "/compare?packages=requests,django&lookback=20")
    assert current_range(compare) == ["20d"] and chart_data(compare)["show"] == 20
    assert 'href="/compare?packages=requests,django&amp;range=30d"' in compare
    for bad in ("0", "36601", "-1", "abc", "1e3", "9" * 50):
        html = await get(client, f"/packages/requests?lookback={bad}", status=400)
        assert "lookback must be a whole number of days between 1 and 36600" in html
        assert "Invalid lookback" in html and "<html" in html
    await get(client, "/compare?packages=requests&lookback=0", status=400)


def drawn_specs(html: str) -> dict[str, dict[str, Any]]:
    return {c["id"]: {k: v for k, v in c.items() if k != "series"} for c in chart_data(html)["charts"]}


async def test_chart_specs_percent_only_where_a_share_means_something(client: TestClient) -> None:
    html = await get(client, "/packages/requests")
    specs = drawn_specs(html)
    assert specs["overall"]["percent"] is False and specs["system"]["percent"] is True
    assert specs["python_minor"]["kind"] == "stacked" and specs["python_minor"]["top"]
    overall = html[html.index('id="title-overall"') : html.index('id="chart-overall"')]
    assert "percent" not in overall and "average" not in overall  # the rolling means are the range bar's
    assert '<option value="28">28-day</option>' in html
    system = html[html.index('id="title-system"') : html.index('id="chart-system"')]
    assert 'class="percent"' in system
    for chart in specs:  # every chart has its table (the text alternative), empty until drawn
        assert f'<details class="chart-table" data-for="{chart}">' in html


async def test_suggest_returns_names_as_json(client: TestClient) -> None:
    response = await client.get("/suggest?q=Req")
    assert response.status == 200 and response.content_type == "application/json"
    assert await response.json() == {"query": "req", "packages": ["requests", "requests-oauthlib"]}
    assert (await (await client.get("/suggest?q=")).json())["packages"] == []
    assert "__all__" not in (await (await client.get("/suggest?q=__")).json())["packages"]
    assert (await client.get("/suggest?q=" + "a" * 300)).status == 400


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


async def test_compare_the_share_of_any_dimension(client: TestClient) -> None:
    html = await get(client, "/compare?packages=requests,django&dimension=python_minor&category=3.12")
    chart = chart_data(html)["charts"][0]
    assert (
        chart["unit"] == "%" and chart["title"] == "Share of downloads by Python minor version: Python 3.12"
    )
    shares = {s["name"]: s["values"] for s in chart["series"]}
    # last day (tests/support/seed.package_rows): requests n = 139, django n = 69; 3.12 is n - n//2 - n//4 - 1
    assert shares["requests"][-1] == round(100 * 35 / 139, 2)
    assert shares["django"][-1] == round(100 * 17 / 69, 2)
    assert shares["django"][0] == 0  # no downloads that day: no share
    assert 'option value="python_minor" selected' in html and 'value="3.12"' in html
    # the range links keep what is compared; no log toggle for shares
    assert (
        'href="/compare?packages=requests,django&amp;dimension=python_minor&amp;category=3.12&amp;range=30d"'
        in html
    )
    assert 'class="log"' not in html and 'class="log"' in await get(client, "/compare?packages=requests")
    # installers count mirrors: their shares are of with_mirrors (n + 10)
    installers = chart_data(
        await get(client, "/compare?packages=requests&dimension=installer&category=bandersnatch")
    )
    assert installers["charts"][0]["series"][0]["values"][-1] == round(100 * 8 / 149, 2)
    countries = chart_data(await get(client, "/compare?packages=requests&dimension=country&category=DE"))
    assert countries["charts"][0]["series"][0]["values"][-1] == round(100 * 69 / 139, 2)
    await get(client, "/compare?packages=requests&dimension=python_minor", status=400)  # which category?
    await get(client, "/compare?packages=requests&dimension=cpu&category=x86", status=400)
    await get(client, "/compare?packages=requests&dimension=version&category=1.0%0A", status=400)


async def test_api_docs_rendered_from_openapi(client: TestClient) -> None:
    html = await get(client, "/api")
    assert "pypistats API" in html
    assert "GET /api/packages/{package}/recent" in html
    assert "day | week | month" in html and "<code>package</code> <em>required</em>" in html
    assert "Unknown package" in html


async def test_static_files_are_versioned_compressed_and_long_lived(client: TestClient) -> None:
    import brotli

    html = await get(client, "/packages/requests")
    srcs = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', html)
    names = [s.rsplit("/", 1)[1] for s in srcs]
    assert names == ["app.css", "plotly-basic.min.js", "trends.js", "app.js", "badges.js"]
    assert all(re.fullmatch(r"/static/[0-9a-f]{16}/[a-z.-]+", s) for s in srcs), srcs
    for src in srcs:
        plain = await client.get(src, headers={"Accept-Encoding": "identity"})
        body = await plain.read()
        assert plain.status == 200 and "Content-Encoding" not in plain.headers
        assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert plain.headers["Vary"] == "Accept-Encoding"
        assert plain.headers["Content-Type"].startswith(("text/javascript", "text/css"))
        assert len(body) > 1000
        br = await client.get(src, headers={"Accept-Encoding": "gzip, deflate, br"}, auto_decompress=False)
        packed = await br.read()
        assert br.headers["Content-Encoding"] == "br" and brotli.decompress(packed) == body
        assert len(packed) < len(body) / 2 and br.headers["ETag"] != plain.headers["ETag"]
        gz = await client.get(src, headers={"Accept-Encoding": "gzip;q=1, br;q=0"}, auto_decompress=False)
        assert gz.headers["Content-Encoding"] == "gzip" and gzip.decompress(await gz.read()) == body
    plotly = next(s for s in srcs if s.endswith("plotly-basic.min.js"))
    first = await client.get(plotly, headers={"Accept-Encoding": "gzip, br"}, auto_decompress=False)
    assert int(first.headers["Content-Length"]) < 400_000  # was 4.8 MB, uncompressed
    # an unversioned or stale URL still answers, but is never cached as immutable
    for stale in ("/static/app.js", "/static/0123456789abcdef/app.js"):
        response = await client.get(stale)
        assert response.status == 200 and response.headers["Cache-Control"] == "no-cache"
        again = await client.get(stale, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status == 304
    for bad in ("/static/..%2Fapp.py", "/static/app.py", "/static/nope.js", "/static/0123456789abcdef/x.js"):
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


async def test_a_retention_bounds_lookback_and_all(
    db: asyncpg.Pool, database_url: str, redis_url: str, namespace: str, pypi: TestServer, redis: Any
) -> None:
    """RETENTION_DAYS=180: ``lookback`` stops at 180, "all" is the 181 dates kept (weekly: > 180 days)."""
    await seed(db, with_all(package_rows("requests", 100, END, days=181)))  # what RETENTION_DAYS=180 keeps
    web_settings = settings(
        database_url, redis_url, namespace, str(pypi.make_url("")).rstrip("/"), retention_days=180
    )
    async with TestClient(TestServer(create_app(web_settings, openapi_document=OPENAPI))) as client:
        html = await get(client, "/packages/requests?lookback=181", status=400)
        assert "lookback must be a whole number of days between 1 and 180" in html
        every = await get(client, "/packages/requests?range=all")
        data = chart_data(every)  # 181 days: weekly, every kept day summed
        assert data["bin"] == "week" and sum(
            next(s["values"] for s in data["charts"][0]["series"] if s["category"] == "without_mirrors")
        ) == sum(range(100, 281))
        assert offered(every) == ["30d", "90d", "180d", "all"]
        faqs = await get(client, "/faqs")
        assert "This site keeps the last 180 days before the last complete day" in faqs
