"""Trend views in Chromium (issue 23): the rolling means (7 and 28 days), the percentage and
"people only" toggles and, on compare, indexed growth (100 = the first whole bin shown), each kept
in the URL so a reload or a pasted link draws the same view, and back undoes it; weekly bins on
compare keep their partial bins marked. Over the browser tests' seeded site (tests/e2e/conftest.py):
``requests`` on its last 120 days, ``django`` on its last 60.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.conftest import Site
from tests.e2e.test_browser import state, wait_state
from tests.support.browser import (
    CHARTS_READY,
    PHONE,
    Tab,
    axe_violations,
    new_tab,
    screenshot,
    sideways_overflow,
    traces,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

COMPARE = "/compare?packages=requests,django&range=30d"


@pytest_asyncio.fixture(loop_scope="session")
async def tab(browser: Any, site: Site) -> AsyncIterator[Tab]:
    tab = await new_tab(browser, site.origin)
    yield tab
    await tab.page.context.close()


async def reload(tab: Tab) -> None:
    await tab.page.reload()
    await tab.page.locator(CHARTS_READY).wait_for(state="attached")


async def test_package_trend_choices_live_in_the_url(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests?range=90d", charts=True)
    raw = (await traces(page, "python_major"))[1]["y"]
    await page.select_option(".range-bar select.mean", "28")
    await wait_state(tab, "python_major", "90 false 28 day linear")
    await page.check('.controls[data-for="system"] input.percent')
    await wait_state(tab, "system", "90 true 28 day linear")
    await page.check('.controls[data-for="overall"] input.people')
    assert page.url.endswith("/packages/requests?range=90d&mean=28&pct=system&people=1")
    smooth = (await traces(page, "python_major"))[1]["y"]
    assert smooth[-1] == pytest.approx(sum(raw[-28:]) / 28, abs=0.01)
    # the range links carry the view; the CSV links do not
    assert await page.get_attribute(".range-bar a[data-range='30d']", "href") == (
        "/packages/requests?range=30d&mean=28&pct=system&people=1"
    )
    assert await page.get_attribute('.controls[data-for="system"] a.csv', "href") == (
        "/packages/requests/system.csv?range=90d"
    )
    await screenshot(page, "package-trends-1366")
    for _ in range(2):  # drawn the same after a reload: the URL holds the whole view
        await wait_state(tab, "system", "90 true 28 day linear")
        assert await page.input_value(".range-bar select.mean") == "28"
        assert await page.is_checked('.controls[data-for="system"] input.percent')
        assert [t["name"] for t in await traces(page, "overall")] == ["by people"]
        await reload(tab)
    await page.go_back()  # people off
    await page.go_back()  # percentage off
    await wait_state(tab, "system", "90 false 28 day linear")
    assert page.url.endswith("/packages/requests?range=90d&mean=28")
    assert not await page.is_checked('.controls[data-for="system"] input.percent')
    tab.assert_clean()


async def test_compare_indexed_growth_by_day_and_week(tab: Tab) -> None:
    page = tab.page
    await tab.visit(COMPARE, charts=True)
    counts = await traces(page, "compare")
    await page.check(".controls input.index")
    await wait_state(tab, "compare", "30 false false day linear index")
    assert page.url.endswith(COMPARE + "&index=1")
    drawn = await traces(page, "compare")
    for before, after in zip(counts, drawn, strict=True):
        assert after["y"][0] == 100.0  # 100 = the first day of the range
        assert after["y"][-1] == pytest.approx(round(1000 * before["y"][-1] / before["y"][0]) / 10)
    await screenshot(page, "compare-trends-1366")
    title = await page.evaluate("() => document.getElementById('chart-compare').layout.yaxis.title.text")
    assert title == f"index, 100 = {drawn[0]['x'][0]}"
    await reload(tab)
    await wait_state(tab, "compare", "30 false false day linear index")
    assert await page.is_checked(".controls input.index")
    # weekly bins from the bin link keep the index
    await page.click(".range-bar a.bin[data-bin='week']")
    await page.wait_for_url("**" + COMPARE + "&index=1&bin=week")
    await page.locator("#chart-compare[data-state$=' week linear index']").wait_for(state="attached")
    # a range starting on a Sunday: the index is taken against the first whole week
    await tab.visit("/compare?packages=requests,django&lookback=31&bin=week&index=1", charts=True)
    weekly = await traces(page, "compare")
    partial = await page.evaluate(
        "() => JSON.parse(document.getElementById('chart-data').textContent).partial"
    )
    first_whole = next(i for i, x in enumerate(weekly[0]["x"]) if x not in partial)
    assert partial and first_whole == 1 and all(t["y"][first_whole] == 100.0 for t in weekly)
    shapes = await page.evaluate("() => document.getElementById('chart-compare').layout.shapes.length")
    assert shapes >= 1  # the partial weeks are shaded
    tab.assert_clean()


async def test_a_pasted_link_draws_its_view_and_fits_a_phone(browser: Any, site: Site) -> None:
    tab = await new_tab(browser, site.origin, PHONE)
    page = tab.page
    try:
        await tab.visit(COMPARE + "&mean=7&index=1&log=1", charts=True)
        assert await state(tab, "compare") == "30 false 7 day log index"
        assert await page.input_value(".range-bar select.mean") == "7"
        assert all(t["y"][0] == 100.0 for t in await traces(page, "compare"))
        problems = await axe_violations(page) + await sideways_overflow(page)
        await screenshot(page, "compare-trends-390")
        assert problems == [], "\n".join(problems)
        tab.assert_clean()
    finally:
        await page.context.close()


async def test_a_bad_trend_choice_is_a_400_page(tab: Tab) -> None:
    await tab.visit("/packages/requests?mean=5", status=400)
    assert "mean must be 7 or 28" in await tab.page.inner_text("main")
    tab.assert_clean()
