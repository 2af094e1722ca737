"""Every page in Chromium at desktop (1366 px) and phone (390 px) width: no console error, CSP
violation, failed request or error response; no serious or critical axe-core violation; no
sideways scrolling; a compact header, charts above the fold and no Plotly toolbar on a phone.
Full-page screenshots of each land in tests/artifacts/ for people to look at.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Site
from tests.support.browser import DESKTOP, PHONE, axe_violations, new_tab, screenshot, sideways_overflow

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

#: (name, path, status, has charts)
PAGES = [
    ("home", "/", 200, False),
    ("package", "/packages/requests", 200, True),
    ("all", "/packages/__all__?lookback=90", 200, True),
    ("compare", "/compare?packages=requests,django,bigpkg", 200, True),
    ("compare-empty", "/compare", 200, False),
    ("compare-share", "/compare?packages=requests,django&dimension=python_minor&category=3.12", 200, True),
    ("top", "/top", 200, False),
    ("search", "/search/requests", 200, False),
    ("about", "/about", 200, False),
    ("faqs", "/faqs", 200, False),
    ("api", "/api", 200, False),
    ("user", "/user", 200, False),
    ("404", "/packages/requestz", 404, False),
]
#: The tallest header allowed on a phone (it was 210 px).
PHONE_HEADER_PX = 100


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_every_page_is_clean_accessible_and_fits(
    browser: Any, site: Site, viewport: dict[str, int]
) -> None:
    tab = await new_tab(browser, site.origin, viewport)
    page = tab.page
    phone = viewport == PHONE
    failures: list[str] = []
    try:
        for name, path, status, charts in PAGES:
            await tab.visit(path, status=status, charts=charts)
            failures += [f"{name}: {v}" for v in await axe_violations(page)]
            failures += [f"{name}: {o}" for o in await sideways_overflow(page)]
            if phone:
                header = await page.locator("header.site").bounding_box()
                assert header is not None
                if header["height"] > PHONE_HEADER_PX:
                    failures.append(f"{name}: the header is {header['height']:.0f} px tall")
                hidden = await page.eval_on_selector(
                    "header.site nav", "nav => nav.scrollWidth - nav.clientWidth"
                )
                if hidden > 0:
                    failures.append(f"{name}: {hidden} px of the header's links are out of sight")
            if charts:
                failures += [f"{name}: {p}" for p in await chart_layout(page, phone, viewport["height"])]
            await screenshot(page, f"{name}-{viewport['width']}")
            failures += [f"{name}: {p}" for p in tab.problems]
            tab.problems.clear()
    finally:
        await page.context.close()
    assert failures == [], "\n".join(failures)


async def chart_layout(page: Any, phone: bool, fold: int) -> list[str]:
    """Where the first chart is and whether Plotly's toolbar covers it."""
    problems: list[str] = []
    wrapped = await page.eval_on_selector_all(
        ".recent .num",
        "nums => nums.filter(n => n.offsetHeight > 1.5 * parseFloat(getComputedStyle(n).lineHeight))"
        ".map(n => n.textContent)",
    )
    if wrapped:
        problems.append(f"numbers broken over two lines: {wrapped}")
    chart = page.locator(".chart").first
    box = await chart.bounding_box()
    assert box is not None
    if box["y"] + box["height"] / 2 > fold:
        problems.append(
            f"the first chart's middle is at {box['y'] + box['height'] / 2:.0f} px, below the fold"
        )
    bars = page.locator(".chart .modebar")
    if phone and await bars.count():
        problems.append("Plotly's toolbar is drawn on a phone")
    if not phone:  # only on hover (Plotly's own rules, which the CSP must let it add)
        opacity = await bars.first.locator(".modebar-group").first.evaluate(
            "g => getComputedStyle(g).opacity"
        )
        if opacity != "0":
            problems.append(f"Plotly's toolbar shows without hover (opacity {opacity})")
    return problems
