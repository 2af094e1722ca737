"""The logged-in visitor in Chromium, through the real login (auth service and the fake GitHub):
"Log in to track" on a package page, back to that page after login, Track, the "My packages"
link, the dashboard's search-as-you-type add box and remove buttons, a refused name explained,
and logging out back to the page the visitor was on. The dashboard is also checked for console
errors, axe-core violations and sideways scrolling at desktop and phone width.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.conftest import Site
from tests.support.browser import (
    DESKTOP,
    PHONE,
    Tab,
    axe_violations,
    new_tab,
    screenshot,
    sideways_overflow,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def tab(browser: Any, site: Site) -> AsyncIterator[Tab]:
    tab = await new_tab(browser, site.origin, allowed=(site.github,))
    yield tab
    await tab.page.context.close()


async def rows(tab: Tab) -> list[str]:
    found: list[str] = await tab.page.eval_on_selector_all(
        "table.dashboard tbody tr", "rows => rows.map(r => r.dataset.package)"
    )
    return found


async def test_track_from_a_package_page_and_manage_the_dashboard(tab: Tab, browser: Any, site: Site) -> None:
    page = tab.page
    await tab.visit("/packages/requests?lookback=30", charts=True)
    await page.get_by_role("link", name="Log in to track").click()
    await page.wait_for_url(f"{site.origin}/packages/requests?lookback=30")  # back where we were
    await page.get_by_role("button", name="Track requests").click()
    await page.get_by_role("button", name="Stop tracking requests").wait_for()
    assert page.url == f"{site.origin}/packages/requests?lookback=30"

    await page.get_by_role("link", name="My packages").click()
    await page.wait_for_url(f"{site.origin}/user")
    assert await rows(tab) == ["requests"]

    box = page.get_by_label("Add a package")
    await box.press_sequentially("dja")  # typed, so the input events fire as a person's would
    await page.locator('#package-suggestions option[value="django"]').wait_for(state="attached")
    await box.fill("django")
    await box.press("Enter")
    await page.locator('tr[data-package="django"]').wait_for()
    assert await rows(tab) == ["django", "requests"]

    await box.fill("no-such-package")
    await box.press("Enter")
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "no-such-package" in (await alert.inner_text()) and await rows(tab) == ["django", "requests"]

    for viewport in (DESKTOP, PHONE):
        await page.set_viewport_size(viewport)
        assert await axe_violations(page) == []
        assert await sideways_overflow(page) == []
        await screenshot(page, f"user-logged-in-{viewport['width']}")
    await page.set_viewport_size(DESKTOP)

    await page.get_by_role("button", name="Stop tracking requests").click()
    await page.locator('tr[data-package="requests"]').wait_for(state="detached")
    assert await rows(tab) == ["django"]

    await tab.visit("/packages/django?lookback=60", charts=True)
    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_url(f"{site.origin}/packages/django?lookback=60")  # not the home page
    await page.get_by_role("link", name="Log in to track").wait_for()
    assert await page.get_by_role("link", name="My packages").count() == 0
    tab.assert_clean()
