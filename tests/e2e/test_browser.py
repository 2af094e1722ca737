"""Browser tests of the charts: Chromium (Debian's) driven by Playwright against the site served
in-process (tests/e2e/conftest.py).

Checks that the package page draws every chart from its spec, that the date range, bin and log
scale live in the URL (range links drawn in the page or loaded, back and forward, ``?lookback=N``,
``?log=1``) and always match what is drawn, the percentage and 7-day toggles, top N plus "other" on stacked charts, full numbers and names in
hover labels, the table behind each chart, the compare page, what a first and a repeat visit
transfer, and that none of it logs a console error or a failed request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.conftest import BIG, MINORS, Site
from tests.support.browser import CHARTS_READY, Tab, names, new_tab, traces

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

#: Performance API: bytes over the wire (headers + encoded bodies) of the navigation and resources.
TRANSFERRED = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return {html: nav.transferSize, resources: performance.getEntriesByType("resource").map(
    r => ({name: r.name, transfer: r.transferSize, decoded: r.decodedBodySize}))};
}"""


@pytest_asyncio.fixture(loop_scope="session")
async def tab(browser: Any, site: Site) -> AsyncIterator[Tab]:
    tab = await new_tab(browser, site.origin)
    yield tab
    await tab.page.context.close()


async def state(tab: Tab, chart: str) -> str:
    value: str = await tab.page.get_attribute(f"#chart-{chart}", "data-state")
    return value


async def wait_state(tab: Tab, chart: str, expected: str) -> None:
    await tab.page.locator(f"#chart-{chart}[data-state='{expected}']").wait_for(state="attached")


async def current_range(tab: Tab) -> list[str]:
    found: list[str] = await tab.page.eval_on_selector_all(
        ".range-bar a.range[aria-current='true']", "links => links.map(a => a.textContent)"
    )
    return found


async def test_package_page_draws_every_chart_from_its_spec(tab: Tab) -> None:
    await tab.visit("/packages/requests", charts=True)
    expected = {
        "overall": ["with mirrors", "without mirrors"],
        "python_major": ["Python 2", "Python 3", "unknown"],
        "python_minor": ["Python 2.7", "Python 3.11", "Python 3.12", "unknown"],
        "system": ["Darwin", "Linux", "Windows", "other", "unknown"],
    }
    for chart, labels in expected.items():
        drawn = await traces(tab.page, chart)
        assert names(drawn) == labels, chart
        assert all(len(t["x"]) == 180 for t in drawn)  # the default: the last 180 days
        assert await tab.page.locator(f"#chart-{chart} .main-svg").count() > 0, f"{chart} has no SVG"
        stacked = {t["stackgroup"] for t in drawn}
        assert stacked == ({"one"} if chart == "python_minor" else {None}), chart
    # the dimensions beyond pypistats.org (tests/support/seed.package_rows; last day n = 219)
    versions = await traces(tab.page, "version")
    assert names(versions) == ["2.0.0", "2.31.0", "2.32.3"] and {t["stackgroup"] for t in versions} == {"one"}
    installers = await traces(tab.page, "installer")
    assert names(installers) == ["bandersnatch (mirror)", "pip", "uv", "not reported (counted as a mirror)"]
    assert sum(t["y"][-1] for t in installers) == 229  # with_mirrors: the mirrors' share is in the chart
    countries = await traces(tab.page, "country")  # one ranked bar chart of the range's totals
    assert len(countries) == 1 and countries[0]["y"] == ["DE", "US"]  # largest on top (drawn last)
    assert sum(countries[0]["x"]) == sum(range(100, 220))
    assert names(await traces(tab.page, "ci")) == ["in CI", "not in CI", "not reported"]
    overall = await traces(tab.page, "overall")
    assert overall[1]["y"][-1] == 219 and overall[1]["y"][0] == 0  # 100 + 119; zero-filled start
    # a share of with/without mirrors means nothing: no percentage toggle there
    assert await tab.page.locator('.controls[data-for="overall"] input.percent').count() == 0
    assert await tab.page.locator('.controls[data-for="system"] input.percent').count() == 1
    tab.assert_clean()


async def test_the_range_lives_in_the_url_and_matches_what_is_drawn(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests?lookback=30", charts=True)
    assert await current_range(tab) == ["30d"]  # was: "all" highlighted while 30 days were drawn
    for chart in ("overall", "system"):
        assert await state(tab, chart) == "30 false false day linear"
        assert len((await traces(page, chart))[0]["x"]) == 30

    # a daily range the page has the days for is drawn at once, and pushed into the history
    await page.evaluate("window.__samePage = true")
    await page.click(".range-bar a[data-range='90d']")
    await wait_state(tab, "overall", "90 false false day linear")
    assert page.url.endswith("/packages/requests?range=90d")
    assert await page.evaluate("window.__samePage === true")  # no reload
    assert await current_range(tab) == ["90d"]
    for chart in ("overall", "python_minor", "system"):  # was: 90d still drew only 30 days
        assert len((await traces(page, chart))[0]["x"]) == 90, chart
    assert await page.get_attribute('.controls[data-for="system"] a.csv', "href") == (
        "/packages/requests/system.csv?range=90d"
    )
    assert (
        await page.get_attribute(".range-bar a.bin[data-bin='week']", "href")
        == "/packages/requests?range=90d&bin=week"
    )

    await page.go_back()
    await wait_state(tab, "overall", "30 false false day linear")
    assert page.url.endswith("?lookback=30") and await current_range(tab) == ["30d"]
    assert len((await traces(page, "system"))[0]["x"]) == 30
    assert await page.get_attribute('.controls[data-for="system"] a.csv', "href") == (
        "/packages/requests/system.csv?lookback=30"
    )
    await page.go_forward()
    await wait_state(tab, "overall", "90 false false day linear")
    assert await current_range(tab) == ["90d"]

    # "all" is 181 days here: by week, so the server draws it (an ordinary link)
    await page.click(".range-bar a[data-range='all']")
    await page.wait_for_url("**/packages/requests?range=all")
    await tab.page.locator(CHARTS_READY).wait_for(state="attached")
    assert await page.evaluate("window.__samePage === undefined")  # a new page
    weeks = (await traces(page, "overall"))[0]["x"]
    assert await state(tab, "overall") == f"{len(weeks)} false false week linear" and 26 <= len(weeks) <= 27
    assert await current_range(tab) == ["all"]
    assert await page.locator(".range-bar select.mean").count() == 0  # a week is an average already
    assert await page.get_attribute('.controls[data-for="overall"] a.csv', "href") == (
        "/packages/requests/overall.csv?range=all"
    )
    await page.go_back()  # back to the page of the 90 days
    await wait_state(tab, "overall", "90 false false day linear")
    assert page.url.endswith("?range=90d") and await current_range(tab) == ["90d"]
    tab.assert_clean()


async def test_log_scale_is_in_the_url_and_back_undoes_it(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests?range=90d", charts=True)
    assert await page.evaluate("document.getElementById('chart-overall').layout.yaxis.type") == "linear"
    await page.check(".range-bar input.log")
    await wait_state(tab, "overall", "90 false false day log")
    assert page.url.endswith("/packages/requests?range=90d&log=1")
    layout = await page.evaluate("document.getElementById('chart-overall').layout.yaxis.type")
    assert layout == "log"
    # a stacked chart on a log axis is drawn as lines (stacked areas would misdraw the layers)
    await wait_state(tab, "python_minor", "90 false false day log")
    assert {t["stackgroup"] for t in await traces(page, "python_minor")} == {None}
    # a share stays on a linear axis
    await page.check('.controls[data-for="system"] input.percent')
    await wait_state(tab, "system", "90 true false day linear")
    # the other links keep the log scale and the percentage chart, the CSV links need neither
    assert (
        await page.get_attribute(".range-bar a[data-range='30d']", "href")
        == "/packages/requests?range=30d&log=1&pct=system"
    )
    assert await page.get_attribute(".range-bar a.bin[data-bin='month']", "href") == (
        "/packages/requests?range=90d&log=1&pct=system&bin=month"
    )
    assert await page.get_attribute('.controls[data-for="overall"] a.csv', "href") == (
        "/packages/requests/overall.csv?range=90d"
    )
    await page.click(".range-bar a[data-range='30d']")
    await wait_state(tab, "overall", "30 false false day log")
    assert page.url.endswith("?range=30d&log=1&pct=system")
    await page.go_back()
    await page.go_back()
    await page.go_back()
    await wait_state(tab, "overall", "90 false false day linear")
    assert page.url.endswith("?range=90d") and not await page.is_checked(".range-bar input.log")
    # a loaded page with ?log=1 starts on a log axis
    await tab.visit("/packages/requests?range=all&bin=month&log=1", charts=True)
    assert await page.is_checked(".range-bar input.log")
    assert (await state(tab, "overall")).endswith(" false false month log")
    tab.assert_clean()


async def test_toggles_percent_average_and_top_n(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests", charts=True)
    await page.check('.controls[data-for="system"] input.percent')
    await wait_state(tab, "system", "180 true false day linear")
    system = await traces(page, "system")
    for day in (-1, -30):
        assert abs(sum(t["y"][day] for t in system) - 100) < 0.1
    raw = (await traces(page, "python_major"))[1]["y"]
    await page.select_option(".range-bar select.mean", "7")
    await wait_state(tab, "python_major", "180 false 7 day linear")
    smooth = (await traces(page, "python_major"))[1]["y"]
    assert smooth != raw and len(smooth) == len(raw)
    assert abs(smooth[-1] - sum(raw[-7:]) / 7) < 0.01  # the mean of the last 7 raw values

    await tab.visit("/packages/manyminors", charts=True)
    minor = await traces(page, "python_minor")
    top = [f"Python {m}" for m in MINORS[-6:]]  # the six most downloaded, in version order
    assert names(minor) == [*top, "other"]
    # 3.6, 3.7, 3.8 (10 + 20 + 30) and unknown (1) summed into "other"
    assert minor[-1]["y"][-1] == 61 and {t["stackgroup"] for t in minor} == {"one"}
    await page.check('.controls[data-for="python_minor"] input.percent')
    await wait_state(tab, "python_minor", "180 true false day linear")
    shares = await traces(page, "python_minor")
    assert abs(sum(t["y"][-1] for t in shares) - 100) < 0.1
    tab.assert_clean()


async def test_hover_labels_show_full_numbers_and_names(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/bigpkg?lookback=30", charts=True)
    area = page.locator("#chart-overall .nsewdrag")
    box = await area.bounding_box()
    assert box is not None
    await area.hover(position={"x": box["width"] - 2, "y": box["height"] / 2})  # the last day
    label = page.locator("#chart-overall .hoverlayer")
    await label.locator("text").first.wait_for()
    text = await label.text_content()
    assert text is not None
    assert f"{BIG:,}" in text and f"{BIG + 10:,}" in text, text  # was "13.41684M"
    assert "without mirrors" in text and "mirr..." not in text, text  # was cut at 15 characters
    tab.assert_clean()


async def test_each_chart_has_its_numbers_as_a_table_reachable_by_keyboard(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests?lookback=30", charts=True)
    summary = page.locator('details.chart-table[data-for="overall"] summary')
    for _ in range(200):  # Tab through the page until the table's summary has the focus
        await page.keyboard.press("Tab")
        if await summary.evaluate("s => s === document.activeElement"):
            break
    else:
        raise AssertionError("the table's summary is not reachable with Tab")
    await page.keyboard.press("Enter")
    table = page.locator('details.chart-table[data-for="overall"] table')
    await table.wait_for()
    headers = await table.locator("thead th").all_text_contents()
    assert headers == ["Date", "with mirrors", "without mirrors"]
    rows = table.locator("tbody tr")
    assert await rows.count() == 30
    assert await rows.first.locator("th, td").all_text_contents() == ["2026-11-24", "229", "219"]
    # the table follows the chart: 90 days, then shares
    await page.click(".range-bar a[data-range='90d']")
    await wait_state(tab, "overall", "90 false false day linear")
    assert await rows.count() == 90
    tab.assert_clean()


async def test_search_leads_to_the_package_page_and_compare_draws_one_line_each(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/")
    await page.fill('main input[name="q"]', "Django")
    await page.press('main input[name="q"]', "Enter")
    await page.wait_for_url(f"{tab.origin}/packages/django")
    await page.locator(CHARTS_READY).wait_for(state="attached")
    assert await page.locator("h1").first.inner_text() == "django"
    await tab.visit("/search/djan")  # a single hit goes straight to its page
    assert page.url == f"{tab.origin}/packages/django"

    await tab.visit("/compare?packages=requests,django&lookback=60", charts=True)
    drawn = await traces(page, "compare")
    assert names(drawn) == ["requests", "django"] and len(drawn[0]["x"]) == 60
    assert await current_range(tab) == ["60d"]

    # the share of one category of any dimension, chosen in the form
    await page.select_option("#compare-dimension", "python_minor")
    await page.fill("#compare-category", "3.12")
    await page.click("form.compare button[type=submit]")
    await page.locator("#chart-compare[data-state]").wait_for(state="attached")
    assert "dimension=python_minor" in page.url and "category=3.12" in page.url
    shares = await traces(page, "compare")
    assert names(shares) == ["requests", "django"]
    # requests' last day: n = 219, 3.12 = n - n//2 - n//4 - 1
    assert shares[0]["y"][-1] == round(100 * 55 / 219, 2)
    tab.assert_clean()


async def test_first_visit_is_small_and_a_repeat_visit_fetches_only_the_html(tab: Tab) -> None:
    page = tab.page
    await tab.visit("/packages/requests", charts=True)
    first = await page.evaluate(TRANSFERRED)
    total = first["html"] + sum(r["transfer"] for r in first["resources"])
    plotly = next(r for r in first["resources"] if "plotly" in r["name"])
    assert plotly["transfer"] < plotly["decoded"] / 2, plotly  # sent compressed
    assert total <= 1_200_000, first  # was 4.85 MB
    await tab.visit("/packages/django", charts=True)
    repeat = await page.evaluate(TRANSFERRED)
    # every file comes from the cache; only the page's data is new: its HTML and its own badge
    files = [r for r in repeat["resources"] if "/api/packages/" not in r["name"]]
    assert files and all(r["transfer"] == 0 for r in files), repeat
    tab.assert_clean()
