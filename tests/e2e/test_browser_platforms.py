"""The package page's platform and ABI charts, and compare's share of a free-threaded ABI, in
Chromium at desktop (1366 px) and phone (390 px) width: the charts draw the seeded categories
(tests.support.seed.platform_rows) with their labels, the percentage toggle gives each one's share;
no console error, failed request, serious axe violation or sideways scrolling; screenshots of
both charts in tests/artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import END, Site
from tests.support.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    axe_violations,
    new_tab,
    screenshot,
    sideways_overflow,
    traces,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

#: requests on the last seeded day: n = 100 + 119 (tests.support.seed.platform_rows).
N = 219


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_platform_and_abi_charts(browser: Any, site: Site, viewport: dict[str, int]) -> None:
    tab = await new_tab(browser, site.origin, viewport)
    page = tab.page
    width = viewport["width"]
    try:
        await tab.visit("/packages/requests", charts=True)
        platforms = {t["name"]: t for t in await traces(page, "platform")}
        assert platforms["manylinux x86_64"]["y"][-1] == N // 2
        assert platforms["any (pure Python)"]["y"][-1] == N - 1 - N // 2 - N // 5 - N // 6
        assert platforms["sdist (source)"]["y"][-1] == 1
        assert platforms["manylinux x86_64"]["x"][-1].startswith(END.isoformat())
        abis = {t["name"]: t for t in await traces(page, "abi")}
        assert abis["cp313t (free-threaded)"]["y"][-1] == N // 10
        assert abis["abi3 (stable ABI)"]["y"][-1] == N // 5
        # the percentage toggle: each ABI's share of the day
        await page.check(".controls[data-for='abi'] input.percent")
        shares = {t["name"]: t["y"][-1] for t in await traces(page, "abi")}
        assert shares["cp313t (free-threaded)"] == pytest.approx(100 * (N // 10) / N, abs=0.01)
        await page.uncheck(".controls[data-for='abi'] input.percent")
        for chart in ("platform", "abi"):
            box = page.locator(f"section.chart-box:has(#chart-{chart})")
            await box.scroll_into_view_if_needed()
            ARTIFACTS.mkdir(exist_ok=True)
            await box.screenshot(path=str(ARTIFACTS / f"{chart}-chart-{width}.png"))
        problems = await axe_violations(page) + await sideways_overflow(page)
        # compare: the share of free-threaded builds
        await tab.visit("/compare?packages=requests,django&dimension=abi&category=cp313t", charts=True)
        compared = {t["name"]: t["y"] for t in await traces(page, "compare")}
        assert compared["requests"][-1] == pytest.approx(100 * (N // 10) / N, abs=0.01)
        assert set(compared["django"]) == {0}  # seeded without platforms: no share, drawn as 0
        problems += await axe_violations(page) + await sideways_overflow(page)
        await screenshot(page, f"compare-abi-{width}")
        assert problems == []
        tab.assert_clean()
    finally:
        await page.context.close()
