"""Browser tests of long ranges (issue 20) over two years of seeded history: weekly and monthly
bins with their partial first and last bins marked (open markers, grey bands, hover text, the
table), the range and bin links loaded from the server with back and forward, the log axis, and
every long view clean (no console error, no failed request), accessible (axe-core) and without
sideways scrolling at 1366 and 390 px. Full-page screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from shared import bins
from tests.e2e.conftest import END, Site, serve
from tests.e2e.test_browser_pages import chart_layout
from tests.support.browser import (
    CHARTS_READY,
    DESKTOP,
    PHONE,
    Tab,
    axe_violations,
    new_tab,
    screenshot,
    sideways_overflow,
    traces,
)
from tests.support.seed import package_rows

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DAYS = 730
FIRST = END - dt.timedelta(days=DAYS - 1)  # 2024-11-25, a Monday
#: (name, path): the long views a person looks at, each drawn, checked and photographed.
VIEWS = [
    ("year-weekly-log", "/packages/requests?range=1y&log=1"),
    ("all-monthly-log", "/packages/requests?range=all&bin=month&log=1"),
    ("five-years-clipped", "/packages/requests?range=5y"),
    ("all-packages-monthly", "/packages/__all__?range=2y&bin=month"),
    ("compare-monthly-log", "/compare?packages=requests,django&range=all&bin=month&log=1"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def long_site(chromium: str, database_url: str, redis_url: str) -> AsyncIterator[Site]:
    rows = package_rows("requests", 100, END, DAYS) + package_rows("django", 40, END, 400)
    async with serve(database_url, redis_url, rows) as served:
        yield served


@pytest_asyncio.fixture(loop_scope="session")
async def tab(browser: Any, long_site: Site) -> AsyncIterator[Tab]:
    tab = await new_tab(browser, long_site.origin)
    yield tab
    await tab.page.context.close()


def weekly_sums(start: dt.date) -> list[int]:
    """requests' downloads without mirrors (100 + i on day i) per week of ``start..END``."""
    sums: dict[dt.date, int] = {}
    day = start
    while day <= END:
        key = bins.bin_start(day, "week")
        sums[key] = sums.get(key, 0) + 100 + (day - FIRST).days
        day += dt.timedelta(days=1)
    return list(sums.values())


async def state(tab: Tab, chart: str) -> str:
    value: str = await tab.page.get_attribute(f"#chart-{chart}", "data-state")
    return value


async def layout(tab: Tab, chart: str) -> dict[str, Any]:
    found: dict[str, Any] = await tab.page.evaluate(
        """(id) => { const d = document.getElementById('chart-' + id);
             return {yaxis: d.layout.yaxis.type, shapes: d.layout.shapes.length,
                     sizes: d.data.map(t => t.marker ? t.marker.size : null),
                     custom: d.data.map(t => t.customdata || null)}; }""",
        chart,
    )
    return found


async def test_partial_weeks_are_marked_in_the_chart_the_hover_and_the_table(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests?range=1y", charts=True)
    overall = await traces(page, "overall")
    weeks = overall[1]["x"]
    assert weeks[0] == "2025-11-24" and weeks[-1] == "2026-11-23"
    assert all(dt.date.fromisoformat(w).weekday() == 0 for w in weeks)
    assert overall[1]["y"] == weekly_sums(END - dt.timedelta(days=364))  # drawn as the server summed
    assert await state(tab, "overall") == f"{len(weeks)} false false week linear"
    drawn = await layout(tab, "overall")
    assert drawn["shapes"] == 2  # a grey band at each partial end
    sizes = drawn["sizes"][1]
    assert sizes[0] > 0 and sizes[-1] > 0 and set(sizes[1:-1]) == {0}  # open markers on them only
    assert drawn["custom"][1][-1] == " (partial: 2 of 7 days)" and drawn["custom"][1][1] == ""
    # the hover label names the week and says it is partial
    area = page.locator("#chart-overall .nsewdrag")
    box = await area.bounding_box()
    assert box is not None
    last_x = await page.evaluate(
        """() => { const ax = document.getElementById('chart-overall')._fullLayout.xaxis;
             return ax.l2p(ax.d2l('2026-11-23')); }"""
    )
    await area.hover(position={"x": last_x, "y": box["height"] / 2})
    label = page.locator("#chart-overall .hoverlayer")
    await label.locator("text").first.wait_for()
    text = await label.text_content()
    assert text is not None and "week of 2026-11-23" in text and "partial: 2 of 7 days" in text, text
    # so does the table, newest first
    await page.click('details.chart-table[data-for="overall"] summary')
    rows = page.locator('details.chart-table[data-for="overall"] tbody tr')
    await rows.first.wait_for()
    assert await rows.count() == len(weeks)
    assert await rows.first.locator("th").text_content() == "2026-11-23 (partial: 2 of 7 days)"
    assert await rows.nth(1).locator("th").text_content() == "2026-11-16"
    caption = await page.locator('details.chart-table[data-for="overall"] caption').text_content()
    assert caption is not None and f"{len(weeks)} weeks" in caption
    # no 7-day average of weeks; the note under the bar says which weeks are partial
    assert await page.locator(".range-bar select.mean").count() == 0
    assert await page.locator(".partial-note").inner_text() == (
        "Shaded: partial weeks 2025-11-24 (6 of 7 days) and 2026-11-23 (2 of 7 days)."
    )
    tab.assert_clean()


async def test_ranges_and_bins_load_from_the_server_and_back_and_forward_redraw(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests", charts=True)
    assert await state(tab, "overall") == "180 false false day linear"
    await page.click(".range-bar a.range[data-range='2y']")
    await page.wait_for_url("**/packages/requests?range=2y")
    await page.locator(CHARTS_READY).wait_for(state="attached")
    assert (await state(tab, "overall")).endswith(" false false week linear")
    await page.click(".range-bar a.bin[data-bin='month']")
    await page.wait_for_url("**/packages/requests?range=2y&bin=month")
    await page.locator("#chart-overall[data-state='25 false false month linear']").wait_for(state="attached")
    assert await page.get_attribute('.controls[data-for="version"] a.csv', "href") == (
        "/packages/requests/version.csv?range=2y&bin=month"
    )
    await page.go_back()
    await page.wait_for_url("**/packages/requests?range=2y")
    await page.locator("#chart-overall[data-state$=' week linear']").wait_for(state="attached")
    await page.go_back()
    await page.locator("#chart-overall[data-state='180 false false day linear']").wait_for(state="attached")
    await page.go_forward()
    await page.locator("#chart-overall[data-state$=' week linear']").wait_for(state="attached")
    # a range longer than what is kept says what it covers
    await tab.visit("/packages/requests?range=5y", charts=True)
    note = page.locator(".range-note")
    assert await note.is_visible()
    assert await note.inner_text() == (
        f"5y reaches before the first day kept: showing the 730 days from {FIRST.isoformat()}"
    )
    tab.assert_clean()


async def test_log_axis_on_monthly_bins(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests?range=all&bin=month&log=1", charts=True)
    assert await state(tab, "overall") == "25 false false month log"
    drawn = await layout(tab, "overall")
    assert drawn["yaxis"] == "log" and drawn["shapes"] == 2
    await page.uncheck(".range-bar input.log")
    await page.locator("#chart-overall[data-state='25 false false month linear']").wait_for(state="attached")
    assert page.url.endswith("/packages/requests?range=all&bin=month")
    await page.go_back()
    await page.locator("#chart-overall[data-state='25 false false month log']").wait_for(state="attached")
    assert page.url.endswith("&log=1") and await page.is_checked(".range-bar input.log")
    tab.assert_clean()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_long_views_are_clean_accessible_and_fit(
    browser: Any, long_site: Site, viewport: dict[str, int]
) -> None:
    tab = await new_tab(browser, long_site.origin, viewport)
    page = tab.page
    failures: list[str] = []
    try:
        for name, path in VIEWS:
            await tab.visit(path, charts=True)
            failures += [f"{name}: {v}" for v in await axe_violations(page)]
            failures += [f"{name}: {o}" for o in await sideways_overflow(page)]
            failures += [
                f"{name}: {p}" for p in await chart_layout(page, viewport == PHONE, viewport["height"])
            ]
            await screenshot(page, f"history-{name}-{viewport['width']}")
            failures += [f"{name}: {p}" for p in tab.problems]
            tab.problems.clear()
    finally:
        await page.context.close()
    assert failures == [], "\n".join(failures)
