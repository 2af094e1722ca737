"""Browser tests of the package page's deferred drawing (static/app.js ``drawInTurn``): the first
screen is drawn first, and a chart below it is drawn when the visitor scrolls to it, with the
trend choices of the URL, its table and its CSV link, even when the browser is never idle.

The browser's idle callbacks are switched off here (an init script), so a chart below the first
screen can only be drawn because it came near the screen (IntersectionObserver).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.conftest import Site
from tests.support.browser import CHARTS_READY, Tab, new_tab, sideways_overflow, traces

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

NEVER_IDLE = "window.requestIdleCallback = function () { return 0; };"
PHONE = {"width": 390, "height": 800}


@pytest_asyncio.fixture(loop_scope="session")
async def tab(browser: Any, site: Site) -> AsyncIterator[Tab]:
    tab = await new_tab(browser, site.origin, viewport=PHONE)
    await tab.page.context.add_init_script(NEVER_IDLE)
    yield tab
    await tab.page.context.close()


async def chart_ids(tab: Tab) -> list[str]:
    found: list[str] = await tab.page.eval_on_selector_all(
        ".chart[data-chart]", "divs => divs.map(d => d.dataset.chart)"
    )
    return found


async def drawn(tab: Tab) -> list[str]:
    found: list[str] = await tab.page.eval_on_selector_all(
        ".chart[data-state]", "divs => divs.map(d => d.dataset.chart)"
    )
    return found


async def test_a_chart_below_the_first_screen_is_drawn_when_scrolled_to(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests?lookback=90&mean=7&log=1")
    await page.locator("#chart-overall[data-state]").wait_for(state="attached")
    ids = await chart_ids(tab)
    last = ids[-1]
    assert len(ids) > 8 and last not in await drawn(tab)  # far below: not drawn yet
    assert await page.locator(CHARTS_READY).count() == 0
    await page.locator(f"#chart-{last}").scroll_into_view_if_needed()
    await page.locator(f"#chart-{last}[data-state]").wait_for(state="attached")
    assert await traces(page, last), f"{last} drawn without traces"
    state = await page.get_attribute(f"#chart-{last}", "data-state")
    assert state is not None and state.startswith("90 ") and " 7 day " in f" {state} "  # the URL's view
    # its table is built from what was drawn
    await page.locator(f'details.chart-table[data-for="{last}"] summary').click()
    rows = page.locator(f'details.chart-table[data-for="{last}"] table tbody tr')
    await rows.first.wait_for(state="attached")
    assert await rows.count() > 0
    # every chart in turn as the visitor scrolls down, each with its traces
    for chart in ids:
        await page.locator(f"#chart-{chart}").scroll_into_view_if_needed()
        await page.locator(f"#chart-{chart}[data-state]").wait_for(state="attached")
    await page.locator(CHARTS_READY).wait_for(state="attached")
    for chart in ids:
        assert await traces(page, chart), chart
    assert await sideways_overflow(page) == []
    csv = await page.get_attribute(f'.controls[data-for="{ids[-2]}"] a.csv', "href")
    assert csv is not None and "lookback=90" in csv and "log" not in csv  # the range, raw numbers
    tab.assert_clean()


async def test_a_trend_choice_changed_before_scrolling_reaches_the_charts_below(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests")
    await page.locator("#chart-overall[data-state]").wait_for(state="attached")
    await page.select_option(".range-bar select.mean", "7")  # redraws every chart, drawn or not
    ids = await chart_ids(tab)
    for chart in ids:
        await page.locator(f"#chart-{chart}").scroll_into_view_if_needed()
        await page.locator(f"#chart-{chart}[data-state]").wait_for(state="attached")
    await page.locator(CHARTS_READY).wait_for(state="attached")
    assert "mean=7" in page.url
    for chart in ("overall", ids[-1]):
        state = await page.get_attribute(f"#chart-{chart}", "data-state")
        assert state is not None and " 7 day " in f" {state} ", (chart, state)
    tab.assert_clean()
