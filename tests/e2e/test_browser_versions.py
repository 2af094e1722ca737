"""Browser test of version adoption and release markers (issue 23): a package going from 1.x to
2.x, its releases on the fake PyPI. The adoption chart draws one line per major (2.x from its
release on), its selector regroups by version; every time chart marks the final releases in its
range with a line and a hover naming the version; the page is clean (no console error, no failed
request), accessible (axe-core) and without sideways scrolling at 1366 and 390 px. Screenshots
land in tests/artifacts/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.conftest import END, Site, serve
from tests.support.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    Tab,
    axe_violations,
    new_tab,
    screenshot,
    sideways_overflow,
    traces,
)
from tests.support.seed import Row, package_rows

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DAYS = 150
#: Release -> days before END it was uploaded (2.0.0rc1 is a pre-release: no marker).
RELEASED = {"1.8.0": 140, "1.9.0": 70, "2.0.0rc1": 45, "2.0.0": 40, "2.1.0": 15}
#: The charts of the page that are drawn over time (country is a bar chart).
TIME_CHARTS = ("overall", "python_major", "python_minor", "system", "version", "installer", "file_type", "ci")


def day_of(version: str) -> dt.date:
    return END - dt.timedelta(days=RELEASED[version])


def version_rows() -> list[Row]:
    """Each release downloaded from its day on: the old ones flat, the new ones growing."""
    rows: list[Row] = []
    for k in range(DAYS):
        day = END - dt.timedelta(days=DAYS - 1 - k)
        for version, weight in (("1.8.0", 60), ("1.9.0", 30), ("2.0.0rc1", 3), ("2.0.0", 0), ("2.1.0", 0)):
            if day >= day_of(version):
                n = weight or 2 * (day - day_of(version)).days + 1
                rows.append((day, "majorpkg", "version", version, n))
        rows.append((day, "majorpkg", "version", "null", 5))
    return rows


def project() -> dict[str, Any]:
    releases = {
        v: [{"upload_time_iso_8601": f"{day_of(v)}T13:00:00Z", "yanked": False, "packagetype": "sdist"}]
        for v in RELEASED
    }
    return {
        "info": {"name": "majorpkg", "version": "2.1.0", "summary": "A package going to 2.x."},
        "releases": releases,
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def versions_site(chromium: str, database_url: str, redis_url: str) -> AsyncIterator[Site]:
    rows = [r for r in package_rows("majorpkg", 100, END, DAYS) if r[2] != "version"] + version_rows()
    async with serve(database_url, redis_url, rows, {"majorpkg": project()}) as served:
        yield served


async def markers(tab: Tab, chart: str) -> dict[str, Any]:
    found: dict[str, Any] = await tab.page.evaluate(
        """(id) => { const d = document.getElementById('chart-' + id);
             const lines = d.layout.shapes.filter(s => s.type === 'line').map(s => s.x0.slice(0, 10));
             const trace = d.data.filter(t => t.name === 'releases')[0];
             const first = d.data[0].x[0];
             return {lines: lines, text: trace ? trace.text : [], hover: trace ? trace.hovertemplate : '',
                     padded: String(d._fullLayout.xaxis.range[0]) < first}; }""",
        chart,
    )
    return found


@pytest.mark.parametrize(("viewport", "label"), [(DESKTOP, "1366"), (PHONE, "390")])
async def test_adoption_chart_and_release_markers_are_drawn(
    browser: Any, versions_site: Site, viewport: dict[str, int], label: str
) -> None:
    tab = await new_tab(browser, versions_site.origin, viewport)
    try:
        await tab.visit("/packages/majorpkg", charts=True)
        # This package's days carry no platform counts: that chart says so instead of a bare grid.
        said = await tab.page.evaluate(
            "(ids) => ids.map(id => (document.getElementById('chart-' + id).layout.annotations || [])"
            ".map(a => a.text))",
            ["platform", "overall"],
        )
        assert said == [["No downloads recorded for this chart in this range"], []]
        drawn = await traces(tab.page, "adoption")
        lines = {t["name"]: t for t in drawn if t["name"] != "releases"}
        assert list(lines) == ["1.x", "2.x"]
        two = lines["2.x"]
        first = two["x"].index(next(x for x, y in zip(two["x"], two["y"], strict=True) if y is not None))
        assert two["x"][first] == day_of("2.0.0rc1").isoformat()  # the pre-release starts 2.x
        assert all(y is None for y in two["y"][:first]) and 0 < two["y"][-1] < 100
        shown = [v for v in RELEASED if "rc" not in v and day_of(v) >= END - dt.timedelta(days=179)]
        for chart in (*TIME_CHARTS, "adoption"):
            found = await markers(tab, chart)
            assert found["text"] == shown, chart
            assert found["lines"] == [day_of(v).isoformat() for v in shown], chart
            assert "release %{text}" in found["hover"]
            assert not found["padded"], f"{chart}: the x axis starts before the first bin"
        # Hovering a marker names its release.
        box = await tab.page.locator(
            "#chart-overall .scatterlayer .trace:last-child .point"
        ).last.bounding_box()
        assert box is not None
        await tab.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        hover = tab.page.locator("#chart-overall .hoverlayer")
        await hover.get_by_text("release 2.1.0").wait_for()
        # Grouped by version, the lines are the versions (PEP 440 order), null left out.
        await tab.page.select_option("#title-adoption ~ .controls select.grouping", "version")
        await tab.page.wait_for_function(
            "() => document.getElementById('chart-adoption').data.some(t => t.name === '2.1.0')"
        )
        regrouped = [t["name"] for t in await traces(tab.page, "adoption") if t["name"] != "releases"]
        assert regrouped == ["1.8.0", "1.9.0", "2.0.0rc1", "2.0.0", "2.1.0"]
        assert await axe_violations(tab.page) == []
        assert await sideways_overflow(tab.page) == []
        await tab.page.locator("#chart-adoption").scroll_into_view_if_needed()
        await screenshot(tab.page, f"versions-{label}")
        for box_of in ("adoption", "overall"):  # the two charts alone, to look at closely
            path = ARTIFACTS / f"versions-{label}-{box_of}.png"
            await tab.page.locator(f".chart-box:has(#chart-{box_of})").screenshot(path=str(path))
        tab.assert_clean()
    finally:
        await tab.page.context.close()
