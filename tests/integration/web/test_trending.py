"""The trending page over seeded rows (lists computed by the aggregator's own code): each list with
its method, the top list's choices and orders as links, the defaults, and 400 pages for bad
parameters."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from markupsafe import escape

from shared import discovery
from tests.integration.web.test_pages import get


async def test_trending_page_shows_every_list_with_its_method(client: TestClient) -> None:
    html = await get(client, "/trending")
    assert '<a href="/trending">Trending</a>' in html  # in the navigation
    for name in discovery.LISTS:
        assert str(escape(discovery.METHODS[name])) in html
    assert "Top by installer: uv" in html
    # 40 days of requests: no 56 days for trending, no 90 days for new
    assert "Nothing yet: trending needs 56 complete days" in html
    assert "No new package yet" in html
    top = html[html.index('id="top"') :]
    assert top.index('href="/packages/requests"') < top.index('href="/packages/django"')
    assert 'href="/trending?dimension=system&amp;category=Linux&amp;order=downloads#top"' in html
    share = await get(client, "/trending?dimension=system&category=Linux&order=share")
    assert "Top by operating system: Linux" in share and 'aria-current="true">share of' in share


async def test_bad_parameters_are_400_pages(client: TestClient) -> None:
    for query in ("dimension=planet", "dimension=ci&category=maybe", "order=size"):
        html = await get(client, f"/trending?{query}", status=400)
        assert "Invalid" in html
