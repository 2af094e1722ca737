"""The ecosystem page in Chromium at 1366 and 390 px over ``__all__`` with uv rising against pip
and Python 3.13 passing 3.12 (tests/integration/web/test_ecosystem_page.py's rows): every chart drawn
as stacked shares, the sentences on the page, the range and bin links and the 7-day mean kept in
the URL, no console error or failed request, no serious axe violation, no sideways scrolling.
Full-page screenshots land in tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from services.web.ecosystem import ECOSYSTEM
from tests.e2e.conftest import Site, serve
from tests.integration.web.test_ecosystem_page import rows_of
from tests.support.browser import (
    DESKTOP,
    PHONE,
    axe_violations,
    new_tab,
    screenshot,
    sideways_overflow,
    traces,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def eco_site(chromium: str, database_url: str, redis_url: str) -> AsyncIterator[Site]:
    async with serve(database_url, redis_url, rows_of("alpha", 1) + rows_of("beta", 2)) as served:
        yield served


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_ecosystem_page_draws_every_share_and_says_what_changed(
    browser: Any, eco_site: Site, viewport: dict[str, int]
) -> None:
    tab = await new_tab(browser, eco_site.origin, viewport)
    page = tab.page
    try:
        await tab.visit("/ecosystem", charts=True)
        sentences = await page.locator(".changes li").all_inner_texts()
        assert "uv passed pip: 60% of installs against 40%." in sentences, sentences
        assert any(s.startswith("Python 3.13 passed Python 3.12") for s in sentences), sentences
        seeded = ("installer", "python_minor", "system")
        for share in ECOSYSTEM:
            if share.id in seeded:
                assert await page.get_attribute(f"#chart-{share.id}", "data-state") is not None, share.id
        assert await page.locator(".empty-chart").count() == len(ECOSYSTEM) - len(seeded)  # says so
        drawn = await traces(page, "installer")
        assert [t["name"] for t in drawn] == ["pip", "uv"] and all(t["stackgroup"] for t in drawn)
        assert drawn[1]["y"][-1] == round(100 * 690 / 1100, 2)  # uv's share on the last day
        axis = await page.evaluate("() => document.getElementById('chart-installer').layout.yaxis.range")
        assert axis == [0, 100]
        assert await page.is_visible("header.site nav a[href='/ecosystem']")
        hidden = await page.eval_on_selector("header.site nav", "nav => nav.scrollWidth - nav.clientWidth")
        assert hidden <= 0, f"{hidden} px of the header's links are out of sight"
        problems = await axe_violations(page) + await sideways_overflow(page)
        await screenshot(page, f"ecosystem-{viewport['width']}")
        assert problems == [], "\n".join(problems)
        # weekly bins from the bin link, with their partial ends
        await page.click(".range-bar a.bin[data-bin='week']")
        await page.wait_for_url("**/ecosystem?bin=week")
        await page.locator("#chart-installer[data-state$=' week linear']").wait_for(state="attached")
        assert await page.locator(".partial-note").count() == 1
        await screenshot(page, f"ecosystem-weekly-{viewport['width']}")
        tab.assert_clean()
    finally:
        await page.context.close()
