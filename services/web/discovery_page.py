"""The trending page (``/trending``): the discovery lists the aggregator stored (shared.discovery).

Owns what the page shows: trending, new and rising, and the top packages of one category of a
dimension (``?dimension=&category=&order=``, installer ``uv`` by downloads when none is asked
for), each list with its method in plain words. A bad parameter is a 400 page naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.web import pages
from services.web.pages import PageError, Payload, Site
from shared import discovery
from shared.events import valid_category

#: Rows of each list on the page.
PAGE_ROWS = 25
DEFAULT_DIMENSION = "installer"
DEFAULT_CATEGORY = "uv"
LABELS = {
    "installer": "Installer",
    "python_minor": "Python version",
    "system": "Operating system",
    "file_type": "File type",
    "country": "Country",
    "ci": "CI",
}


def top_choice(query: Mapping[str, str]) -> tuple[str, str | None, str]:
    """``(dimension, category or None for the default, order)`` of the top list; a 400 otherwise."""
    dimension = query.get("dimension") or DEFAULT_DIMENSION
    if dimension not in discovery.DIMENSIONS:
        raise PageError(
            400, "Invalid dimension", f"dimension must be one of {', '.join(discovery.DIMENSIONS)}."
        )
    category = query.get("category") or None
    if category is not None and not valid_category(dimension, category):
        raise PageError(400, "Invalid category", f"{category[:40]!r} is not a category of {dimension}.")
    order = query.get("order") or "downloads"
    if order not in discovery.ORDERS:
        raise PageError(400, "Invalid order", "order must be downloads or share.")
    return dimension, category, order


async def trending(site: Site, dimension: str, category: str | None, order: str) -> Payload:
    conn = site.pool
    trend = await discovery.read_list(conn, "trending")
    new = await discovery.read_list(conn, "new")
    every = {d: await discovery.categories(conn, d) for d in discovery.DIMENSIONS}
    offered = every[dimension]
    if category is None:
        default = DEFAULT_CATEGORY if dimension == DEFAULT_DIMENSION else ""
        category = default if default in offered else (offered[0] if offered else default)
    top = await discovery.read_list(conn, "top", dimension, category, order)
    context: dict[str, Any] = {
        "trending": trend.entries[:PAGE_ROWS],
        "new": new.entries[:PAGE_ROWS],
        "top": top.entries[:PAGE_ROWS],
        "day": trend.day or new.day or top.day,
        "methods": discovery.METHODS,
        "dimension": dimension,
        "category": category,
        "order": order,
        "every": every,
        "labels": LABELS,
        "min_earlier": discovery.MIN_EARLIER_DOWNLOADS,
    }
    html = pages.render(site.env, "trending.html", **context)
    return pages.payload("Trending packages", html, await pages.span(site))
