"""A local stand-in for PyPI's JSON API (``GET /pypi/<name>/json``), for tests, benchmarks and demos.

Owns only what the web service reads: a 200 with an ``info`` object for the projects it was given,
a 404 for every other name, and an answer that arrives after ``slow_seconds`` for the names in
``slow`` (to exercise the client's timeout). It is a real HTTP server, so the real client is tested.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

PROJECTS = web.AppKey("projects", dict)
SLOW = web.AppKey("slow", frozenset)
SLOW_SECONDS = web.AppKey("slow_seconds", float)
HITS = web.AppKey("hits", list)


def project(name: str, **info: Any) -> dict[str, Any]:
    """A JSON body in PyPI's shape with sensible defaults, overridable field by field."""
    body: dict[str, Any] = {
        "name": name,
        "summary": f"The {name} project.",
        "version": "1.0.0",
        "license": "MIT",
        "author": "Jane Doe",
        "home_page": f"https://example.org/{name}",
        "project_urls": {"Source": f"https://example.org/{name}/src"},
        "requires_dist": [],
    }
    body.update(info)
    return {"info": body, "urls": [], "releases": {}}


async def _json(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    request.app[HITS].append(name)
    if name in request.app[SLOW]:
        await asyncio.sleep(request.app[SLOW_SECONDS])
    body = request.app[PROJECTS].get(name)
    if body is None:
        return web.json_response({"message": "Not Found"}, status=404)
    return web.json_response(body)


def create_app(
    projects: dict[str, dict[str, Any]], slow: frozenset[str] = frozenset(), slow_seconds: float = 10.0
) -> web.Application:
    app = web.Application()
    app[PROJECTS] = projects
    app[SLOW] = slow
    app[SLOW_SECONDS] = slow_seconds
    app[HITS] = []
    app.router.add_get("/pypi/{name}/json", _json)
    return app
