"""Request handlers of the JSON API.

Owns what each endpoint answers: parse parameters (services.api.params), look the finished answer
up in the body cache (in memory, then Redis; services.api.cache), otherwise read it from PostgreSQL
through shared.rollups (on the read replica when one is configured: shared.db.replica), then answer with an ETag, a 304 for a matching ``If-None-Match`` and
``Cache-Control`` until the next expected update. Bodies are JSON with keys sorted at every level,
encoded once per cache version; time series are written directly (:func:`series_body`, and
:func:`binned_body` for ``bin=week|month|year``, shared.bins). A series answers the window of
:meth:`~services.api.params.SeriesQuery.window` (by default the last 180 days). Bad parameters
are 400 and unknown packages 404, as JSON.
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

from services.api import params, queries
from services.api.cache import BodyCache, CacheControl, Entry, matches
from shared import bins, rank, rollups, series, totals
from shared.db.layout import Dictionary
from shared.packages import ALL_PACKAGES
from shared.web import READER, json_error

JSON = "application/json"
View = Callable[[web.Request], Awaitable[web.StreamResponse]]
Build = Callable[[asyncpg.Connection], Awaitable[Entry]]


@dataclass
class ApiState:
    cache: BodyCache
    cache_control: CacheControl
    openapi: Entry
    asyncapi: Entry
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


def binned_body(
    groups: series.Groups, bin: bins.Bin, first: dt.date, last: dt.date, package: str, type_name: str
) -> bytes:
    """``dumps({"data": [{"category", "date", "downloads", "partial"}, ...], "package", "type"})``
    of :func:`shared.bins.binned` ``(groups, bin, first, last)``, byte for byte, written directly
    as :func:`series_body` is: one comparison per day (days come in order, so a day past the
    current bin's last day starts the next bin), and each bin's date and ``partial`` text built
    once per body."""
    tails: dict[dt.date, tuple[str, str]] = {}
    parts = []
    bin_start, bin_last, is_partial = bins.bin_start, bins.bin_last, bins.is_partial

    def row(head: str, start: dt.date, total: int) -> str:
        tail = tails.get(start)
        if tail is None:
            flag = "true}" if is_partial(start, bin, first, last) else "false}"
            tail = tails[start] = (start.isoformat() + '","downloads":', ',"partial":' + flag)
        return head + tail[0] + str(total) + tail[1]

    for category, days in groups:
        head = '{"category":' + json.dumps(category) + ',"date":"'
        start: dt.date | None = None
        stop = dt.date.min
        total = 0
        for day, downloads in days:
            if day > stop:
                if start is not None:
                    parts.append(row(head, start, total))
                start = bin_start(day, bin)
                stop = bin_last(start, bin)
                total = 0
            total += int(downloads)
        if start is not None:
            parts.append(row(head, start, total))
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


async def _require_span(conn: asyncpg.Connection, package: str) -> tuple[dt.date | None, dt.date | None]:
    """The first and last complete days, after checking that ``package`` exists (one round trip)."""
    exists, last, first = await conn.fetchrow(queries.REQUIRE_SPAN, package)
    if not (last is not None if package == ALL_PACKAGES else exists):
        raise PackageNotFound(package)
    span: tuple[dt.date | None, dt.date | None] = (first, last)
    return span


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
    """A time series: the window's days (``/version?limit=N``: top N over the window), per day as
    pypistats.org answers, or summed per week, month or year with their ``partial`` flags."""
    type_name = f"{dimension}_downloads"

    @api_view
    async def view(request: web.Request) -> web.StreamResponse:
        package = params.package(request.match_info["package"])
        query = parse(request.query)
        names = request.app[STATE].names

        async def build(conn: asyncpg.Connection) -> Entry:
            first, day = await _require_span(conn, package)
            window = query.window(first, day)
            groups: series.Groups = []
            if window is not None:
                groups = await series.series_groups(conn, names, package, dimension, query.category, *window)
                if query.limit is not None:
                    groups = series.top_groups(groups, query.limit)
            if window is None or query.bin == "day":
                return Entry.build(series_body(groups, package, type_name), JSON, day)
            return Entry.build(binned_body(groups, query.bin, *window, package, type_name), JSON, day)

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


@api_view
async def package_totals(request: web.Request) -> web.StreamResponse:
    """Last day, week, month and year, all time and the first day on record (shared.totals), and
    the rank by last month's downloads and by people (shared.rank)."""
    package = params.package(request.match_info["package"])
    names = request.app[STATE].names

    async def build(conn: asyncpg.Connection) -> Entry:
        day = await _require(conn, package)
        found = await totals.package_totals(conn, names, package)
        data = {**found.data(), "rank": await rank.ranks(conn, package)}
        return Entry.build(dumps({"data": data, "package": package, "type": "total_downloads"}), JSON, day)

    return await cached(request, f"totals:{package}:", build)


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


async def asyncapi(request: web.Request) -> web.StreamResponse:
    """The AsyncAPI document of every NATS subject, message and schema (shared.asyncapi)."""
    state = request.app[STATE]
    return answer(request, state.asyncapi, state)


async def openapi(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    return answer(request, state.openapi, state)
