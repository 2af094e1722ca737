"""A local stand-in for PyPI's JSON API (``GET /pypi/<name>/json``), for tests, benchmarks and demos.

Owns only what the web service reads: a 200 with an ``info`` object (and ``releases``) for the
projects it was given, a 404 for every other name (or, with ``invent=True``, a plausible project
made up from the name: what ``make run`` starts, ``python -m services.web fake-pypi``, since its
synthetic packages are not on PyPI; a synthetic package's releases are the ones its downloads
show, on the days the synthetic source releases them: shared.synthetic_catalog), and an answer that arrives after ``slow_seconds`` for the names in ``slow`` (to exercise
the client's timeout). It is a real HTTP server, so the real client is tested.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from typing import Any

from aiohttp import web

from shared.synthetic_catalog import index_of, releases

PROJECTS = web.AppKey("projects", dict)
SLOW = web.AppKey("slow", frozenset)
SLOW_SECONDS = web.AppKey("slow_seconds", float)
HITS = web.AppKey("hits", list)
INVENT = web.AppKey("invent", bool)
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "MPL-2.0", "ISC")


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


def synthetic_releases(index: int, today: dt.date) -> dict[str, list[dict[str, Any]]]:
    """``releases`` in PyPI's shape for the synthetic package of rank ``index``: the versions its
    downloads show (shared.synthetic_catalog), each uploaded on its release day (at an hour made
    up from the version), a wheel and an sdist."""
    out: dict[str, list[dict[str, Any]]] = {}
    for version, day in releases(index, today):
        hour = hashlib.blake2b(version.encode(), digest_size=1).digest()[0] % 24
        when = f"{day.isoformat()}T{hour:02d}:{(hour * 7) % 60:02d}:12.345678Z"
        files = (f"{version}-py3-none-any.whl", "bdist_wheel"), (f"{version}.tar.gz", "sdist")
        out[version] = [
            {"filename": f"pkg-{f}", "packagetype": t, "upload_time_iso_8601": when, "yanked": False}
            for f, t in files
        ]
    return out


def invented_project(name: str, today: dt.date | None = None) -> dict[str, Any]:
    """A project for any name, the same every time (for a given ``today``): for a package of the
    synthetic source, its releases up to ``today`` (UTC) and the newest as its version; for any
    other name, a version made up from a hash of the name and no releases; a licence and links
    made up from the hash, and a summary that says it is made up."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    version = f"{digest[0] % 6}.{digest[1] % 24}.{digest[2] % 10}"
    index = index_of(name)
    found: dict[str, list[dict[str, Any]]] = {}
    if index is not None:
        found = synthetic_releases(index, today or dt.datetime.now(dt.UTC).date())
        version = next(reversed(found))
    body = project(
        name,
        summary=f"{name}: a synthetic project of the local demo stack (metadata from the fake PyPI).",
        version=version,
        license=LICENSES[digest[3] % len(LICENSES)],
        author="The pypistats-next demo",
        home_page=f"https://example.org/projects/{name}",
        project_urls={"Source": f"https://example.org/projects/{name}/src"},
    )
    body["releases"] = found
    return body


async def _json(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    request.app[HITS].append(name)
    if name in request.app[SLOW]:
        await asyncio.sleep(request.app[SLOW_SECONDS])
    body = request.app[PROJECTS].get(name)
    if body is None and request.app[INVENT]:
        body = invented_project(name)
    if body is None:
        return web.json_response({"message": "Not Found"}, status=404)
    return web.json_response(body)


def create_app(
    projects: dict[str, dict[str, Any]],
    slow: frozenset[str] = frozenset(),
    slow_seconds: float = 10.0,
    *,
    invent: bool = False,
) -> web.Application:
    app = web.Application()
    app[PROJECTS] = projects
    app[SLOW] = slow
    app[SLOW_SECONDS] = slow_seconds
    app[HITS] = []
    app[INVENT] = invent
    app.router.add_get("/pypi/{name}/json", _json)
    return app
