"""What the browser tests check on every page: Chromium's launch flags, a tab that records every
problem (console errors, CSP violations, uncaught exceptions, failed requests, error responses,
requests to other origins), axe-core, sideways scrolling, and screenshots for people to look at.

A test opens pages with :meth:`Tab.visit` and ends with ``tab.assert_clean()``; nothing waits
on a clock, only on selectors and conditions with Playwright's deadlines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
#: axe-core impacts that fail a test.
BLOCKING = ("serious", "critical")
#: Waits use selectors, never ``wait_for_function``: Playwright polls a function predicate with
#: ``new Function``, which the page's CSP (no 'unsafe-eval') refuses.
CHARTS_READY = "body[data-charts-ready='true']"


@dataclass
class Tab:
    """A Playwright page that records what went wrong on it."""

    page: Any
    origin: str
    #: Other origins the tab may reach (the fake GitHub of the login flow).
    allowed: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)
    #: Main-document URLs that are meant to answer with an error status (a 404 page).
    expected_status: dict[str, int] = field(default_factory=dict)
    #: Main-frame navigations started so far, and the count at each request's start: a request
    #: the browser aborts because a later navigation left its page is not a failure.
    _navigation: int = 0
    _navigations: dict[Any, int] = field(default_factory=dict)

    def watch(self) -> Tab:
        page = self.page
        page.set_default_timeout(60_000)  # shared CI machines are slow; nothing waits on a clock
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("request", self._request)
        return self

    def _console(self, message: Any) -> None:
        if message.type not in ("error", "warning"):
            return
        if message.type == "warning" and "Content Security Policy" not in message.text:
            return
        status = self.expected_status.get(message.location.get("url", ""))
        if status and f"status of {status}" in message.text:
            return  # Chromium logs the expected error status of a page we asked for
        self.problems.append(f"console {message.type}: {message.text}")

    def _failed(self, request: Any) -> None:
        if request.failure == "net::ERR_ABORTED" and self._navigations.get(request) != self._navigation:
            return  # cancelled by the browser because the page was left (a click, Enter in a form)
        if request.failure == "net::ERR_ABORTED" and "favicon" in request.url:
            return  # the browser's own icon fetch, which it may drop when the page finishes or repaints
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and self.expected_status.get(response.url) != response.status:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def _request(self, request: Any) -> None:
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self._navigation += 1
        self._navigations[request] = self._navigation
        url = request.url
        if not url.startswith((self.origin, *self.allowed)) and not url.startswith("data:"):
            self.problems.append(f"request to another origin: {url}")

    async def visit(self, path: str, *, status: int = 200, charts: bool = False) -> Any:
        url = self.origin + path
        if status != 200:
            self.expected_status[url] = status
        response = await self.page.goto(url)
        assert response is not None and response.status == status, (path, response and response.status)
        if charts:
            await self.page.locator(CHARTS_READY).wait_for(state="attached")
        return response

    def assert_clean(self) -> None:
        problems, self.problems = self.problems, []
        assert problems == [], "\n".join(problems)


async def new_tab(browser: Any, origin: str, viewport: dict[str, int] = DESKTOP, **extra: Any) -> Tab:
    context = await browser.new_context(viewport=viewport, device_scale_factor=1)
    return Tab(await context.new_page(), origin, **extra).watch()


async def axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


async def sideways_overflow(page: Any) -> list[str]:
    """Elements wider than the viewport when the page scrolls sideways; [] when it does not."""
    found: list[str] = await page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth <= width) return [];
          return [`page is ${document.documentElement.scrollWidth}px wide in a ${width}px viewport`].concat(
            Array.from(document.querySelectorAll("body *"))
              .filter(e => e.getBoundingClientRect().right > width + 1)
              .slice(0, 5)
              .map(e => `${e.tagName.toLowerCase()}.${e.className} ends at ${Math.round(e.getBoundingClientRect().right)}px`));
        }"""
    )
    return found


async def screenshot(page: Any, name: str) -> None:
    """A full-page PNG in tests/artifacts/ (git-ignored), for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def names(traces: Iterable[dict[str, Any]]) -> list[str]:
    return [t["name"] for t in traces]


async def traces(page: Any, chart: str) -> list[dict[str, Any]]:
    """What Plotly drew in ``#chart-<chart>``: each trace's name, x, y and stack group."""
    result: list[dict[str, Any]] = await page.evaluate(
        """(id) => document.getElementById('chart-' + id).data.map(
             t => ({name: t.name, x: t.x, y: t.y, stackgroup: t.stackgroup || null}))""",
        chart,
    )
    return result
