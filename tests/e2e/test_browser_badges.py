"""The package page's badge builder and the overall chart's "people only" toggle, in Chromium at
desktop (1366 px) and phone (390 px) width: the builder's preview is the API's badge with the
options picked and the Markdown, HTML and reStructuredText embed exactly it; the toggle draws the
downloads by people alone and back. No console error or failed request; screenshots of both in
tests/artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import END, Site
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


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_badge_builder_and_people_toggle(browser: Any, site: Site, viewport: dict[str, int]) -> None:
    tab = await new_tab(browser, site.origin, viewport)
    page = tab.page
    width = viewport["width"]
    try:
        await tab.visit("/packages/requests", charts=True)
        # the rank among the seeded packages, beside the recent numbers
        assert (await page.text_content("#rank") or "").startswith("#")
        # people only: the overall chart draws its people series alone, then the two lines again
        await page.check(".controls[data-for='overall'] input.people")
        await page.locator("#chart-overall").wait_for(state="attached")
        drawn = await traces(page, "overall")
        assert [t["name"] for t in drawn] == ["by people"]
        assert drawn[0]["y"][-1] == (100 + 119) // 2  # tests.support.seed.people_rows on the last day
        assert drawn[0]["x"][-1].startswith(END.isoformat())
        await page.locator(".controls[data-for='overall'] input.people").scroll_into_view_if_needed()
        await screenshot(page, f"people-toggle-{width}")
        await page.locator("section.recent").screenshot(path=f"tests/artifacts/package-numbers-{width}.png")
        await page.locator("section.chart-box").first.screenshot(
            path=f"tests/artifacts/people-toggle-part-{width}.png"
        )
        await page.uncheck(".controls[data-for='overall'] input.people")
        assert [t["name"] for t in await traces(page, "overall")] == ["with mirrors", "without mirrors"]
        # the builder
        form = page.locator("#badge-form")
        await form.locator("select[name=who]").select_option("people")
        await form.locator("select[name=style]").select_option("for-the-badge")
        await form.locator("select[name=period]").select_option("week")
        await form.locator("input[name=label_color]").fill("e05d44")
        url = f"{site.origin}/api/packages/requests/badge.svg?period=week&who=people&style=for-the-badge&label_color=e05d44"
        preview = page.locator("#badge-preview")
        await page.wait_for_function(
            "(url) => { const i = document.getElementById('badge-preview');"
            " return i.src === url && i.complete && i.naturalWidth > 0; }",
            arg=url,
        )
        assert await preview.evaluate("i => i.naturalHeight") == 28  # for-the-badge
        page_url = f"{site.origin}/packages/requests"
        assert await page.input_value("#badge-markdown") == f"[![requests downloads]({url})]({page_url})"
        assert await page.input_value("#badge-html") == (
            f'<a href="{page_url}"><img src="{url.replace("&", "&amp;")}" alt="requests downloads"></a>'
        )
        assert await page.input_value("#badge-rst") == (
            f".. image:: {url}\n   :target: {page_url}\n   :alt: requests downloads"
        )
        await page.click("button[data-copy='badge-markdown']")
        await page.locator("button[data-copy='badge-markdown']", has_text="Copied").wait_for(timeout=5000)
        assert await axe_violations(page) == []
        assert await sideways_overflow(page) == []
        await page.locator(".badge-builder").scroll_into_view_if_needed()
        await screenshot(page, f"badge-builder-{width}")
        await page.locator(".badge-builder").screenshot(
            path=f"tests/artifacts/badge-builder-part-{width}.png"
        )
        tab.assert_clean()
    finally:
        await page.context.close()
