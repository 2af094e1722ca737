"""The ecosystem page in Chromium at 1366 and 390 px over ``__all__`` with uv rising against pip
and Python 3.13 passing 3.12 (tests/integration/web/test_ecosystem_page.py's rows): every chart drawn
as stacked shares, the sentences on the page, the bin links, no console error or failed request,
no serious axe violation, no sideways scrolling; and over 200 days of the synthetic source (what
``make run`` shows), uv's rise said and drawn. Full-page screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from services.ingest.sources.synthetic import SyntheticSource
from services.web.ecosystem import ECOSYSTEM
from tests.e2e.conftest import END, Site, serve
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
from tests.support.seed import Row

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


def synthetic_rows(days: int, packages: int) -> list[Row]:
    """The synthetic source's days ending END, summed into one package (its ``__all__`` is theirs)."""
    source = SyntheticSource(packages, seed=0)
    rows: list[Row] = []
    for offset in range(days):
        day = END - dt.timedelta(days=offset)
        sums: dict[tuple[str, str], int] = {}
        for _package, dimension, category, n in source.expected_rows(day):
            sums[dimension, category] = sums.get((dimension, category), 0) + n
        rows += [(day, "synthetic-sum", d, c, n) for (d, c), n in sums.items()]
    return rows


async def test_the_synthetic_history_shows_uv_rising(
    browser: Any, chromium: str, database_url: str, redis_url: str
) -> None:
    async with serve(database_url, redis_url, synthetic_rows(200, 200)) as served:
        for viewport in (DESKTOP, PHONE):
            tab = await new_tab(browser, served.origin, viewport)
            page = tab.page
            try:
                await tab.visit("/ecosystem", charts=True)
                sentences = await page.locator(".changes li").all_inner_texts()
                assert any(s.startswith("uv's share of installs rose from ") for s in sentences), sentences
                uv = next(t for t in await traces(page, "installer") if t["name"] == "uv")["y"]
                assert uv[-1] > uv[0] + 3  # points of share over the 180 days drawn
                await screenshot(page, f"ecosystem-synthetic-{viewport['width']}")
                tab.assert_clean()
            finally:
                await page.context.close()
