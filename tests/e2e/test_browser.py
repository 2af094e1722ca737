"""Browser tests: Chromium (Debian's) driven by Playwright against the web app served in-process.

Checks that the package page draws every chart with the expected traces, that range buttons and
the percentage and 7-day toggles change what is drawn, that search leads to the package page,
that the page makes no request to another origin and breaks no Content-Security-Policy rule.
Screenshots land in tests/artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.web import fakepypi
from services.web.app import create_app
from services.web.config import WebSettings
from shared.embedded import free_port
from tests.support.environment import require_executable
from tests.support.seed import package_rows, seed, with_all

CHROMIUM = "/usr/bin/chromium"  # Debian's; CHROMIUM_PATH points elsewhere
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
END = dt.date(2026, 11, 24)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium")]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium's path, before anything is seeded: missing fails under CI=true, skips elsewhere."""
    return require_executable("chromium", CHROMIUM, override="CHROMIUM_PATH")


@pytest.fixture
async def site(
    db: asyncpg.Pool, database_url: str, redis_url: str, namespace: str, redis: Any
) -> AsyncIterator[str]:
    rows = package_rows("requests", 100, END, 120) + package_rows("django", 40, END, 60)
    await seed(db, with_all(rows))
    pypi = TestServer(fakepypi.create_app({"requests": fakepypi.project("requests", version="2.32.3")}))
    await pypi.start_server()
    settings = WebSettings(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        namespace=namespace,
        pypi_url=str(pypi.make_url("")).rstrip("/"),
        pypi_timeout=0.5,
    )
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await pypi.close()


def expected(message: str) -> bool:
    """Plotly.js tries to inject its stylesheet as an inline <style>; CSP refuses it (we serve it
    as /static/plotly.css instead). Every other console error fails the test."""
    return message.startswith("Applying inline style violates") and "'style-src 'self''" in message


@pytest.fixture
async def page(chromium: str, site: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        tab = await context.new_page()
        tab.set_default_timeout(60_000)  # CI machines are shared and slow; nothing here waits on a clock
        tab.problems = []  # console errors (CSP violations show up here) and foreign requests
        tab.on(
            "console",
            lambda m: tab.problems.append(m.text) if m.type == "error" and not expected(m.text) else None,
        )
        tab.on("pageerror", lambda e: tab.problems.append(str(e)))
        tab.on(
            "request", lambda r: None if r.url.startswith(site) else tab.problems.append("foreign " + r.url)
        )
        try:
            yield tab
        finally:
            await browser.close()


async def traces(page: Any, chart: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.evaluate(
        "(id) => document.getElementById('chart-' + id).data.map(t => ({name: t.name, x: t.x, y: t.y}))",
        chart,
    )
    return result


async def test_package_page_draws_every_chart_and_controls_change_it(site: str, page: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.goto(f"{site}/packages/requests")
    await page.wait_for_function("document.body.dataset.chartsReady === 'true'", timeout=60_000)
    expected = {
        "overall": ["with mirrors", "without mirrors"],
        "python_major": ["Python 2", "Python 3", "unknown"],
        "python_minor": ["Python 2.7", "Python 3.11", "Python 3.12", "unknown"],
        "system": ["Darwin", "Linux", "Windows", "other", "unknown"],
    }
    for chart, names in expected.items():
        drawn = await traces(page, chart)
        assert [t["name"] for t in drawn] == names, chart
        assert all(len(t["x"]) == 181 for t in drawn)
        assert await page.locator(f"#chart-{chart} .main-svg").count() > 0, f"{chart} has no SVG"
    overall = await traces(page, "overall")
    assert (
        overall[1]["y"][-1] == 219 and overall[1]["y"][0] == 0
    )  # 100 + 119 on the last day; zero-filled start
    await page.screenshot(path=str(ARTIFACTS / "package-requests.png"), full_page=True)

    await page.click('.controls[data-for="overall"] button[data-range="30"]')
    drawn = await traces(page, "overall")
    assert len(drawn[0]["x"]) == 30 and drawn[0]["x"][-1].startswith(END.isoformat())
    assert len((await traces(page, "system"))[0]["x"]) == 181, "other charts keep their range"

    await page.check('.controls[data-for="system"] input.percent')
    system = await traces(page, "system")
    for day in (-1, -30):
        assert abs(sum(t["y"][day] for t in system) - 100) < 0.1
    assert max(system[1]["y"]) <= 100

    raw = (await traces(page, "python_minor"))[2]["y"]
    await page.check('.controls[data-for="python_minor"] input.average')
    smooth = (await traces(page, "python_minor"))[2]["y"]
    assert smooth != raw and len(smooth) == len(raw)
    # the 7-day average of the last day is the mean of the last 7 raw values
    assert abs(smooth[-1] - sum(raw[-7:]) / 7) < 0.01
    await page.click('.controls[data-for="overall"] button[data-range="all"]')
    assert len((await traces(page, "overall"))[0]["x"]) == 181
    await page.screenshot(path=str(ARTIFACTS / "package-requests-toggled.png"), full_page=True)
    assert page.problems == [], page.problems


async def test_search_leads_to_the_package_page(site: str, page: Any) -> None:
    await page.goto(site + "/")
    await page.fill('main input[name="q"]', "Django")
    await page.press('main input[name="q"]', "Enter")
    await page.wait_for_url(f"{site}/packages/django")
    await page.wait_for_function("document.body.dataset.chartsReady === 'true'", timeout=60_000)
    assert await page.locator("h1").first.inner_text() == "django"
    await page.screenshot(path=str(ARTIFACTS / "search-django.png"), full_page=True)
    await page.goto(site + "/search/req")  # a single hit goes straight to its page
    assert page.url == f"{site}/packages/requests"

    await page.goto(f"{site}/compare?packages=requests,django")
    await page.wait_for_function("document.body.dataset.chartsReady === 'true'", timeout=60_000)
    drawn = await traces(page, "compare")
    assert [t["name"] for t in drawn] == ["requests", "django"]
    await page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
    assert page.problems == [], page.problems
