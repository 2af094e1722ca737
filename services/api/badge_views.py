"""The badge endpoints: ``badge.svg`` and ``shields.json``, which never fail their users.

Owns what a badge request answers. A good one is cached like every API body (services.api.views
``cached``: memory, then Redis, ETag and ``304``) and its ``Cache-Control`` lets a CDN keep it
until the next day is expected, then serve it stale while it revalidates
(``stale-while-revalidate``) or while we fail (``stale-if-error``). Every failure is still a
well-formed badge, never an HTML or JSON error page: an unknown package (``package not found``,
an image with a 404), a bad parameter (``bad <parameter>``, 400) and an outage of PostgreSQL
(``unavailable``, 503) each get an SVG; ``shields.json`` answers them with a 200 and ``isError``,
since shields.io reads no body of an error status. Rate limiting (a limit of its own, separate
from the JSON API's) is the middleware's (services.api.middleware); its refusal is a badge too
(:func:`rate_limited`).
"""

from __future__ import annotations

import asyncio
from typing import Final

import asyncpg
from aiohttp import web

from services.api import badge_counts, badge_params, badges, params
from services.api.cache import Entry
from services.api.views import JSON, STATE, PackageNotFound, View, _require, cached, dumps
from shared.logging import get_logger

SVG: Final = "image/svg+xml"
#: What a CDN may do with a good badge past its max-age: serve it stale for a day while it
#: revalidates, and for a week while we answer errors.
STALE: Final = ", stale-while-revalidate=86400, stale-if-error=604800"
#: Failures are kept briefly: a new package shows up after its first day, an outage ends.
FAILURE_CACHE_CONTROL: Final = "public, max-age=300"
OUTAGE_CACHE_CONTROL: Final = "public, max-age=60"
UNAVAILABLE: Final = "unavailable"
RATE_LIMITED: Final = "rate limited"

log = get_logger(__name__)


def failure(kind: str, status: int, text: str, label: str, style: badges.Style, title: str) -> web.Response:
    """A grey badge saying what went wrong; for shields.io a 200 with ``isError``."""
    cache_control = OUTAGE_CACHE_CONTROL if status >= 500 else FAILURE_CACHE_CONTROL
    headers = {"Cache-Control": cache_control}
    if kind == "svg":
        body = badges.svg(badges.error_badge(label, text, style), title)
        return web.Response(text=body, content_type=SVG, status=status, headers=headers)
    return web.Response(body=dumps(badges.shields_error(label, text)), content_type=JSON, headers=headers)


def rate_limited(request: web.Request, headers: dict[str, str]) -> web.Response:
    """The middleware's refusal of a badge request over its limit, as a badge (429 for the image)."""
    kind = "svg" if request.path.endswith(".svg") else "shields"
    response = failure(
        kind, 429, RATE_LIMITED, badges.LABEL, badge_params.style_of(request.query), RATE_LIMITED
    )
    response.headers.update(headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def _render(kind: str, package: str, query: badge_params.BadgeQuery, label: str, message: str) -> bytes:
    color, label_color = query.svg_colors()
    if kind == "svg":
        badge = badges.Badge(label, message, color, label_color, query.style)
        return badges.svg(
            badge, f"{package}: {label}: {message}" if label else f"{package}: {message}"
        ).encode()
    color_name = query.color or badges.SHIELDS_COLOR
    style = query.style if query.style != "flat" else None
    return dumps(badges.shields(label, message, color_name, query.label_color, style))


def badge_view(kind: str) -> View:
    async def view(request: web.Request) -> web.StreamResponse:
        style = badge_params.style_of(request.query)
        raw = request.match_info["package"]
        try:
            package = params.package(raw)
            query = badge_params.badge_query(request.query)
        except params.ParamError as exc:
            return failure(kind, 400, f"bad {exc.parameter}", badges.LABEL, style, exc.message)
        names = request.app[STATE].names

        async def build(conn: asyncpg.Connection) -> Entry:
            day = await _require(conn, package)
            if query.metric == "rank":
                found = await badge_counts.package_rank(conn, package, query)
                label = query.default_label() if query.label is None else query.label
                message = found.text() if found is not None else "unranked"
            else:
                label, message = query.text(await badge_counts.downloads(conn, names, package, query, day))
            return Entry.build(
                _render(kind, package, query, label, message), SVG if kind == "svg" else JSON, day
            )

        try:
            response = await cached(request, f"badge-{kind}:{package}:{query.cache_part()}", build)
        except PackageNotFound:
            return failure(
                kind, 404, badges.NOT_FOUND, query.error_label(), style, f"{package}: {badges.NOT_FOUND}"
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an outage (database, replica, network): still a badge
            log.warning("badge unavailable", package=package, error=type(exc).__name__)
            response = failure(
                kind, 503, UNAVAILABLE, query.error_label(), style, f"{package}: {UNAVAILABLE}"
            )
            response.headers["Retry-After"] = "60"
            return response
        response.headers["Cache-Control"] += STALE
        return response

    view.__name__ = f"badge_{kind}"
    return view


badge_svg = badge_view("svg")
shields_json = badge_view("shields")
