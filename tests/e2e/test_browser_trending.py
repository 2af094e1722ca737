"""The trending page in Chromium at desktop and phone width, over the seeded site (whose lists the
aggregator's own code computed): reached from the navigation, each list with its method, the top
list switched by category and order through its links; clean, accessible, no sideways scrolling."""

from __future__ import annotations

from typing import Any

import pytest

from shared import discovery
from tests.e2e.conftest import Site
from tests.support.browser import DESKTOP, PHONE, axe_violations, new_tab, screenshot, sideways_overflow

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_trending_page(browser: Any, site: Site, viewport: dict[str, int]) -> None:
    tab = await new_tab(browser, site.origin, viewport)
    page = tab.page
    try:
        await tab.visit("/top", status=200)
        await page.get_by_role("navigation", name="Site").get_by_role("link", name="Trending").click()
        await page.wait_for_url("**/trending")
        assert await page.locator("h1").inner_text() == "Trending packages"
        methods = await page.locator("p.method").all_inner_texts()
        assert methods == [discovery.METHODS["trending"], discovery.METHODS["new"], discovery.METHODS["top"]]
        trending = await page.locator("#trending tbody tr td:nth-child(2)").all_inner_texts()
        assert trending and "requests" in trending
        new = await page.locator("#new tbody tr td:nth-child(2)").all_inner_texts()
        assert new == ["hugepkg", "django", "requests-toolbelt"]  # first seen 31, 60 and 10 days ago
        assert await page.locator("#top h2").inner_text() == "Top by installer: uv"
        failures = [str(v) for v in await axe_violations(page)] + list(await sideways_overflow(page))
        await screenshot(page, f"trending-{viewport['width']}")

        await (
            page.locator("#top .orders").get_by_role("link", name="share of the package's downloads").click()
        )
        await page.wait_for_url("**order=share*")
        shares = await page.locator("#top tbody tr td:nth-child(4)").all_inner_texts()
        values = [float(s.rstrip("%")) for s in shares]
        assert values and values == sorted(values, reverse=True)
        await page.locator("dl.choices").get_by_role("link", name="Linux").click()
        await page.wait_for_url("**category=Linux*")
        assert await page.locator("#top h2").inner_text() == "Top by operating system: Linux"
        failures += [str(v) for v in await axe_violations(page)] + list(await sideways_overflow(page))
        failures += tab.problems

        await tab.visit("/trending?dimension=planet", status=400)
        tab.problems.clear()
    finally:
        await page.context.close()
    assert failures == [], "\n".join(failures)
