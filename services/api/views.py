"""Request handlers of the JSON API.

Owns what each endpoint answers: parse parameters (services.api.params), look the finished answer
up in the body cache (in memory, then Redis; services.api.cache), otherwise read it from PostgreSQL
through shared.rollups (on the read replica when one is configured: shared.db.replica), then answer with an ETag, a 304 for a matching ``If-None-Match`` and
``Cache-Control`` until the next expected update. Bodies are JSON with keys sorted at every level,
encoded once per cache version. Bad parameters are 400 and unknown packages 404, as JSON.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import web

from services.api import badges, params, queries
from services.api.cache import BodyCache, CacheControl, Entry, matches
from shared import rollups, series
from shared.db.layout import Dictionary
from shared.packages import ALL_PACKAGES
from shared.web import READER, json_error

JSON = "application/json"
SVG = "image/svg+xml"
#: An unknown package's badge: a new package shows up after its first day, so keep it briefly.
NOT_FOUND_CACHE_CONTROL = "public, max-age=300"
View = Callable[[web.Request], Awaitable[web.StreamResponse]]
Build = Callable[[asyncpg.Connection], Awaitable[Entry]]


@dataclass
class ApiState:
    cache: BodyCache
    cache_control: CacheControl
    openapi: Entry
    #: Category names of the packed rows, learnt once per process (shared.db.layout).
    names: Dictionary = field(default_factory=Dictionary)


STATE = web.AppKey("api_state", ApiState)


class PackageNotFound(Exception):
    def __init__(self, package: str) -> None:
        super().__init__(package)
        self.package = package


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default).encode()


def series_body(groups: series.Groups, package: str, type_name: str) -> bytes:
    """``dumps({"data": [{"category", "date", "downloads"}, ...], "package", "type"})`` for
    categories with their (day, downloads) in order, byte for byte, written directly: the generic
    encoder (a dict and a date callback per row) was most of an uncached answer's CPU time. Each
    category's and each date's JSON prefix is built once per body."""
    dates: dict[dt.date, str] = {}
    parts = []
    for category, days in groups:
        head = '{"category":' + json.dumps(category) + ',"date":"'
        for day, downloads in days:
            date = dates.get(day)
            if date is None:
                date = dates[day] = day.isoformat() + '","downloads":'
            parts.append(head + date + str(int(downloads)) + "}")
    return f'{{"data":[{",".join(parts)}],"package":{json.dumps(package)},"type":{json.dumps(type_name)}}}'.encode()


def _default(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def api_view(view: View) -> View:
    """Turn :class:`~services.api.params.ParamError` into 400 and :class:`PackageNotFound` into 404."""

    @functools.wraps(view)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await view(request)
        except params.ParamError as exc:
            return json_error(400, exc.message, exc.parameter)
        except PackageNotFound as exc:
            return json_error(404, f"package {exc.package!r} has no downloads on record", "package")

    return wrapped


def answer(request: web.Request, entry: Entry, state: ApiState) -> web.Response:
    headers = {"ETag": entry.etag, "Cache-Control": state.cache_control.value(entry.day)}
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and matches(if_none_match, entry.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=entry.body, content_type=entry.content_type, headers=headers)


async def cached(request: web.Request, key: str, build: Build) -> web.Response:
    """The cached entry for ``key`` (memory, then Redis), or ``build`` it from PostgreSQL and cache
    it; built on a read replica, it is cached only when the replica has replayed the version's WAL
    position (shared.db.replica decides where the build runs)."""
    state = request.app[STATE]
    cache = state.cache
    version = cache.version()
    entry = None
    if version is not None:
        entry = cache.get_local(version.key, key)
        if entry is None:
            entry = await cache.get_shared(version.key, key)
    if entry is None:
        built, cacheable = await request.app[READER].run(version, build)
        if version is not None and cacheable:
            await cache.put(version.key, key, built)
        entry = built
    return answer(request, entry, state)


async def _require(conn: asyncpg.Connection, package: str) -> dt.date | None:
    """The last complete day, after checking that ``package`` exists (one round trip)."""
    exists, day = await conn.fetchrow(queries.REQUIRE, package)
    if not (day is not None if package == ALL_PACKAGES else exists):
        raise PackageNotFound(package)
    day_: dt.date | None = day
    return day_


@api_view
async def recent(request: web.Request) -> web.StreamResponse:
    package = params.package(request.match_info["package"])
    period = params.period(request.query)

    async def build(conn: asyncpg.Connection) -> Entry:
        day = await _require(conn, package)
        totals = await rollups.recent(conn, package)
        data = {f"last_{p}": n for p, n in totals.items() if period in (None, p)}
        return Entry.build(dumps({"data": data, "package": package, "type": "recent_downloads"}), JSON, day)

    return await cached(request, f"recent:{package}:{period or '*'}", build)


def series_view(dimension: str, parse: Callable[[Any], params.SeriesQuery]) -> View:
    type_name = f"{dimension}_downloads"

    @api_view
    async def view(request: web.Request) -> web.StreamResponse:
        package = params.package(request.match_info["package"])
        query = parse(request.query)
        names = request.app[STATE].names

        async def build(conn: asyncpg.Connection) -> Entry:
            day = await _require(conn, package)
            groups = await series.series_groups(
                conn, names, package, dimension, query.category, query.start, query.end
            )
            if query.limit is not None:
                groups = series.top_groups(groups, query.limit)
            return Entry.build(series_body(groups, package, type_name), JSON, day)

        return await cached(request, f"{dimension}:{package}:{query.cache_part()}", build)

    view.__name__ = dimension
    return view


overall = series_view("overall", params.overall)
python_major = series_view("python_major", params.python_major)
python_minor = series_view("python_minor", params.python_minor)
system = series_view("system", params.system)
version = series_view("version", params.version)
installer = series_view("installer", params.installer)
country = series_view("country", params.country)
file_type = series_view("file_type", params.file_type)
ci = series_view("ci", params.ci)


def badge_view(kind: str) -> View:
    """An unknown package still gets a badge, ``downloads | package not found``: an image with a 404
    (a README shows it instead of a broken image), or for shields.io a 200 with ``isError``
    (shields.io reads no body of a 404). Neither is cached: the package may appear tomorrow."""

    @api_view
    async def view(request: web.Request) -> web.StreamResponse:
        package = params.package(request.match_info["package"])
        period = params.period(request.query, default="month") or "month"

        async def build(conn: asyncpg.Connection) -> Entry:
            day = await _require(conn, package)
            downloads = (await rollups.recent(conn, package))[period]
            if kind == "svg":
                return Entry.build(badges.svg(package, downloads, period).encode(), SVG, day)
            return Entry.build(dumps(badges.shields(downloads, period)), JSON, day)

        try:
            return await cached(request, f"badge-{kind}:{package}:{period}", build)
        except PackageNotFound:
            headers = {"Cache-Control": NOT_FOUND_CACHE_CONTROL}
            if kind == "svg":
                return web.Response(
                    text=badges.not_found_svg(package), content_type=SVG, status=404, headers=headers
                )
            return web.Response(body=dumps(badges.shields_not_found()), content_type=JSON, headers=headers)

    view.__name__ = f"badge_{kind}"
    return view


badge_svg = badge_view("svg")
shields_json = badge_view("shields")


@api_view
async def top(request: web.Request) -> web.StreamResponse:
    period = params.period(request.query, default="day") or "day"
    limit = params.limit(request.query)

    async def build(conn: asyncpg.Connection) -> Entry:
        day = await rollups.last_complete_day(conn)
        ranked = await rollups.top(conn, period, limit)
        data = [{"downloads": n, "package": p, "rank": i} for i, (p, n) in enumerate(ranked, start=1)]
        body = {"data": data, "limit": limit, "period": period, "type": "top_packages"}
        return Entry.build(dumps(body), JSON, day)

    return await cached(request, f"top:{ALL_PACKAGES}:{period}:{limit}", build)


@api_view
async def status(request: web.Request) -> web.StreamResponse:
    async def build(conn: asyncpg.Connection) -> Entry:
        found = await rollups.status(conn)
        run = found["last_run"]
        last_run = None
        if run is not None:
            last_run = {k: run[k] for k in ("completed_at", "day", "packages", "rows", "run_id", "source")}
        data = {
            "last_complete_day": found["last_complete_day"],
            "last_run": last_run,
            "packages": found["packages"],
        }
        return Entry.build(dumps({"data": data, "type": "status"}), JSON, found["last_complete_day"])

    return await cached(request, f"status:{ALL_PACKAGES}:", build)


async def openapi(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    return answer(request, state.openapi, state)
