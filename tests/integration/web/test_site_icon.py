"""The site icon: a favicon every page links to, served by web (also at /favicon.ico), and the same
mark as the logo next to the site name in the header."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from aiohttp.test_utils import TestClient


async def test_every_page_links_the_favicon_and_shows_the_logo(client: TestClient) -> None:
    for path in ("/", "/top", "/packages/requests", "/nowhere"):
        html = await (await client.get(path)).text()
        icon = re.search(
            r'<link rel="icon" href="(/static/[0-9a-f]{16}/favicon\.svg)" type="image/svg\+xml">', html
        )
        assert icon is not None, path
        brand = re.search(
            r'<a class="brand" href="/"><img class="logo" src="([^"]+)"[^>]*>pypistats</a>', html
        )
        assert brand is not None and brand.group(1) == icon.group(1), path

    response = await client.get(icon.group(1))
    assert response.status == 200 and response.headers["Content-Type"] == "image/svg+xml"
    assert "immutable" in response.headers["Cache-Control"]
    body = await response.read()
    root = ElementTree.fromstring(body)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.attrib["viewBox"] == "0 0 32 32"

    legacy = await client.get("/favicon.ico", headers={"Accept-Encoding": "identity"})
    assert legacy.status == 200 and legacy.headers["Content-Type"] == "image/svg+xml"
    assert await legacy.read() == body and legacy.headers["Cache-Control"] == "public, max-age=86400"
