"""``/api/trending``: the discovery lists (shared.discovery), as the aggregator stored them.

Owns the endpoint's parameters (``list``, ``dimension``, ``category``, ``order``, ``limit``; a bad
one is a 400 naming it) and its answer. It reads one row of ``discovery_lists`` (and, for
``list=top``, the categories that have a list), cached like every body (services.api.views:
keyed by the cache version, ETag and 304).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from services.api import params
from services.api.cache import Entry
from services.api.views import JSON, api_view, cached, dumps
from shared import discovery, rollups
from shared.events import valid_category
from shared.packages import ALL_PACKAGES


@dataclass(frozen=True)
class DiscoveryQuery:
    name: str
    dimension: str
    category: str
    order: str
    limit: int


def _one_of(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = query.get(name) or None
    if value is not None and value not in allowed:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise params.ParamError(name, f"{name} must be one of {', '.join(allowed)} (got {shown!r})")
    return value


def parse(query: Mapping[str, str]) -> DiscoveryQuery:
    """The validated parameters; :class:`~services.api.params.ParamError` names a bad one."""
    name = _one_of(query, "list", discovery.LISTS) or "trending"
    dimension = _one_of(query, "dimension", discovery.DIMENSIONS)
    order = _one_of(query, "order", discovery.ORDERS)
    category = query.get("category") or None
    limit = params.limit(query)
    if name != "top":
        for parameter, value in (("dimension", dimension), ("category", category), ("order", order)):
            if value is not None:
                raise params.ParamError(parameter, f"{parameter} applies to list=top only")
        return DiscoveryQuery(name, "", "", "", limit)
    if dimension is None:
        raise params.ParamError(
            "dimension", f"list=top needs a dimension: one of {', '.join(discovery.DIMENSIONS)}"
        )
    if category is None:
        raise params.ParamError("category", "list=top needs a category (such as uv for the installer)")
    if not valid_category(dimension, category):
        shown = category if len(category) <= 40 else category[:40] + "..."
        raise params.ParamError("category", f"{shown!r} is not a category of {dimension}")
    return DiscoveryQuery(name, dimension, category, order or "downloads", limit)


def body(q: DiscoveryQuery, found: discovery.Found, categories: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "data": found.entries[: q.limit],
        "day": found.day.isoformat() if found.day else None,
        "limit": q.limit,
        "list": q.name,
        "method": discovery.METHODS[q.name],
        "type": "trending",
    }
    if q.name == "top":
        out |= {
            "dimension": q.dimension,
            "category": q.category,
            "order": q.order,
            "categories": categories or [],
        }
    return out


@api_view
async def trending(request: web.Request) -> web.StreamResponse:
    q = parse(request.query)

    async def build(conn: asyncpg.Connection) -> Entry:
        found = await discovery.read_list(conn, q.name, q.dimension, q.category, q.order)
        names = await discovery.categories(conn, q.dimension) if q.name == "top" else None
        day = await rollups.last_complete_day(conn)
        return Entry.build(dumps(body(q, found, names)), JSON, day)

    key = json.dumps([q.name, q.dimension, q.category, q.order, q.limit])
    return await cached(request, f"trending:{ALL_PACKAGES}:{key}", build)
