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

import asyncio
import datetime as dt
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt
from aiohttp import web

from services.api import params, queries
from services.api.cache import BodyCache, CacheControl, Entry
from shared import bins, rank, rollups, series, totals, versions
from shared.cache import CacheVersion
from shared.db.history import dates_of
from shared.db.layout import Dictionary
from shared.flight import SingleFlight
from shared.logging import get_logger
from shared.packages import ALL_PACKAGES
from shared.web import READER, etag_matches, json_error

JSON = "application/json"
#: A body of the previous cache version, answered while its new one is built: not for long.
STALE_CACHE_CONTROL = "public, max-age=10"
#: Background rebuilds running at once per process (CACHE_STALE_SECONDS).
REBUILD_SLOTS = 2
View = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = get_logger(__name__)
Build = Callable[[asyncpg.Connection], Awaitable[Entry]]


@dataclass
class ApiState:
    cache: BodyCache
    cache_control: CacheControl
    openapi: Entry
    asyncapi: Entry
    #: Builds of missing bodies under way, by (cache version, key): one per key (shared.flight).
    flights: SingleFlight[tuple[str, str], Entry] = field(default_factory=SingleFlight)
    #: Background builds started by requests answered with the previous version's body, by
    #: (cache version, key), at most :data:`REBUILD_SLOTS` running at once: a new day's rebuilds
    #: are spread out instead of crowding out the requests being answered meanwhile.
    rebuilds: dict[tuple[str, str], asyncio.Future[None]] = field(default_factory=dict)
    rebuild_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(REBUILD_SLOTS))
    #: Category names of the packed rows, learnt once per process (shared.db.layout).
    names: Dictionary = field(default_factory=Dictionary)
    #: The kept history's first and last complete days, as read under one cache version.
    spans: SpanCache = field(default_factory=lambda: SpanCache())


Span = tuple[dt.date | None, dt.date | None]


class SpanCache:
    """The first and last complete days under the newest cache version this process read them for.

    They change only when a day completes or retention drops a year, and either bumps the cache
    version, so a series built under version N reads them once per process instead of once per
    answer: an uncached series is then one round trip (the rows), plus the existence check only
    when the window has no row. Not used with a read replica, whose lag could make the span read
    under N older than N (shared.db.replica decides per build), nor while Redis is unusable (no
    version known). The version is watched also with the body cache off (CACHE_TTL_SECONDS=0)."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._span: Span | None = None

    def get(self, key: str | None) -> Span | None:
        return self._span if key is not None and key == self._key else None

    def put(self, key: str | None, span: Span) -> None:
        if key is not None:
            self._key, self._span = key, span


STATE = web.AppKey("api_state", ApiState)


class PackageNotFound(Exception):
    def __init__(self, package: str) -> None:
        super().__init__(package)
        self.package = package


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default).encode()


def series_body(matrix: series.Matrix, package: str, type_name: str) -> bytes:
    """``dumps({"data": [{"category", "date", "downloads"}, ...], "package", "type"})`` of a
    matrix's non-zero days, by category then day, byte for byte, written directly: the generic
    encoder (a dict and a date callback per row) was most of an uncached answer's CPU time. Each
    point's text around its count is made once per window and category (:func:`_point_texts`),
    a row without a zero day is one joined text, and every count goes in with one ``%``
    formatting of the whole body (no Python string work per point)."""
    parts: list[str] = []
    counts: list[int] = []
    for category, row in zip(matrix.categories, matrix.counts, strict=True):
        texts, joined = _point_texts(matrix.start, matrix.span, category)
        _add_row(parts, counts, row, texts, joined)
    return _finish(parts, counts, package, type_name)


def binned_body(
    matrix: series.Matrix, bin: bins.Bin, first: dt.date, last: dt.date, package: str, type_name: str
) -> bytes:
    """``dumps({"data": [{"category", "date", "downloads", "partial"}, ...], "package", "type"})``
    of :func:`shared.bins.binned` over the matrix's series and the window ``first..last``, byte
    for byte, written directly as :func:`series_body` is: the days are summed per bin by numpy
    (:func:`_bin_edges`, once per window and bin), bins without downloads left out."""
    parts: list[str] = []
    counts: list[int] = []
    if matrix.span:
        edges = _bin_edges(matrix.start, matrix.span, bin, first, last)
        sums = np.add.reduceat(matrix.counts, edges, axis=1)
        for category, row in zip(matrix.categories, sums, strict=True):
            texts, joined = _bin_texts(matrix.start, matrix.span, bin, first, last, category)
            _add_row(parts, counts, row, texts, joined)
    return _finish(parts, counts, package, type_name)


def _add_row(
    parts: list[str], counts: list[int], row: npt.NDArray[np.int64], texts: list[str], joined: str
) -> None:
    """One category's points: the texts of its non-zero columns, and their counts."""
    if row.all():
        parts.append(joined)
        counts += row.tolist()
    else:
        nz = np.flatnonzero(row)
        parts += [texts[k] for k in nz.tolist()]
        counts += row[nz].tolist()


def _finish(parts: list[str], counts: list[int], package: str, type_name: str) -> bytes:
    """The body around the points, the counts put in (texts hold ``%`` only as ``%%`` and ``%d``)."""
    tail = f'],"package":{_escaped(package)},"type":{_escaped(type_name)}}}'
    return ('{"data":[' + ",".join(parts) + tail).encode() % tuple(counts)


def _escaped(text: str) -> str:
    """``text`` as a JSON string, with ``%`` doubled for the body's formatting."""
    return json.dumps(text).replace("%", "%%")


@functools.lru_cache(maxsize=1024)
def _point_texts(start: dt.date, span: int, category: str) -> tuple[list[str], str]:
    """Each day's ``{"category":…,"date":"YYYY-MM-DD","downloads":%d}`` of a window, and all of
    them joined by commas (a row with a download every day)."""
    head = '{"category":' + _escaped(category) + ',"date":"'
    texts = [f'{head}{day.isoformat()}","downloads":%d}}' for day in dates_of(start, span)] if span else []
    return texts, ",".join(texts)


@functools.lru_cache(maxsize=1024)
def _bin_texts(
    start: dt.date, span: int, bin: bins.Bin, first: dt.date, last: dt.date, category: str
) -> tuple[list[str], str]:
    """Each bin's ``{"category":…,"date":…,"downloads":%d,"partial":…}`` of a window, and all of
    them joined by commas."""
    head = '{"category":' + _escaped(category) + ',"date":"'
    texts = [
        f'{head}{bin_start.isoformat()}","downloads":%d,"partial":{"true" if partial else "false"}}}'
        for bin_start, partial in _bin_starts(start, span, bin, first, last)
    ]
    return texts, ",".join(texts)


@functools.lru_cache(maxsize=256)
def _bin_edges(start: dt.date, span: int, bin: bins.Bin, first: dt.date, last: dt.date) -> npt.NDArray[np.intp]:
    """The offset of each bin's first day among ``span`` days from ``start`` (the first is 0)."""
    edges = [k for k, _, _ in _bins_of(start, span, bin, first, last)]
    return np.asarray(edges, dtype=np.intp)


def _bin_starts(
    start: dt.date, span: int, bin: bins.Bin, first: dt.date, last: dt.date
) -> list[tuple[dt.date, bool]]:
    """Each bin's first day and whether it is partial, among ``span`` days from ``start``."""
    return [(day, partial) for _, day, partial in _bins_of(start, span, bin, first, last)]


def _bins_of(
    start: dt.date, span: int, bin: bins.Bin, first: dt.date, last: dt.date
) -> list[tuple[int, dt.date, bool]]:
    """``(offset of its first day, its start, partial)`` of each bin among ``span`` days from ``start``."""
    out: list[tuple[int, dt.date, bool]] = []
    current: dt.date | None = None
    for k, day in enumerate(dates_of(start, span)):
        bin_start = bins.bin_start(day, bin)
        if bin_start != current:
            current = bin_start
            out.append((k, bin_start, bins.is_partial(bin_start, bin, first, last)))
    return out


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


def answer(
    request: web.Request, entry: Entry, state: ApiState, cache_control: str | None = None
) -> web.Response:
    headers = {"ETag": entry.etag, "Cache-Control": cache_control or state.cache_control.value(entry.day)}
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and etag_matches(if_none_match, entry.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=entry.body, content_type=entry.content_type, headers=headers)


async def cached(request: web.Request, key: str, build: Build) -> web.Response:
    """The cached entry for ``key`` (memory, then Redis), or ``build`` it from PostgreSQL and cache
    it; built on a read replica, it is cached only when the replica has replayed the version's WAL
    position (shared.db.replica decides where the build runs). Concurrent misses of one key in
    this process share one build (shared.flight: no stampede when a new day empties the cache);
    with the cache off every request reads PostgreSQL itself."""
    state = request.app[STATE]
    cache = state.cache
    version = cache.version()
    if version is None:
        entry, _ = await request.app[READER].run(version, build)
        return answer(request, entry, state)
    found = cache.get_local(version.key, key)
    if found is not None:
        return answer(request, found, state)
    flight = (version.key, key)
    stale = cache.get_stale(key)
    if stale is not None:  # a new day has just landed: the body of the day before, while it is rebuilt
        if flight not in state.rebuilds:
            rebuild = asyncio.ensure_future(
                _rebuild(state, flight, lambda: _fill(request, version, key, build))
            )
            state.rebuilds[flight] = rebuild
            rebuild.add_done_callback(lambda _: state.rebuilds.pop(flight, None))
        return answer(request, stale, state, STALE_CACHE_CONTROL)
    found = await state.flights.run(flight, lambda: _fill(request, version, key, build))
    return answer(request, found, state)


async def _rebuild(state: ApiState, flight: tuple[str, str], fill: Callable[[], Awaitable[Entry]]) -> None:
    """One background rebuild, when a slot is free; a failure is left to the next request for
    it, which builds the body itself and answers the error as usual."""
    async with state.rebuild_slots:
        try:
            await state.flights.run(flight, fill)
        except Exception as exc:
            log.debug("background rebuild failed", error=type(exc).__name__)


async def _fill(request: web.Request, version: CacheVersion, key: str, build: Build) -> Entry:
    """The entry from Redis, or built (and cached when the build may be)."""
    cache = request.app[STATE].cache
    shared = await cache.get_shared(version.key, key)
    if shared is not None:
        return shared
    entry, cacheable = await request.app[READER].run(version, build)
    if cacheable:
        await cache.put(version.key, key, entry)
    return entry


async def _require(conn: asyncpg.Connection, package: str) -> dt.date | None:
    """The last complete day, after checking that ``package`` exists (one round trip)."""
    exists, day = await conn.fetchrow(queries.REQUIRE, package)
    if not (day is not None if package == ALL_PACKAGES else exists):
        raise PackageNotFound(package)
    day_: dt.date | None = day
    return day_


async def _span(conn: asyncpg.Connection, package: str) -> tuple[bool, Span]:
    """Whether ``package`` exists, and the first and last complete days (one round trip)."""
    exists, last, first = await conn.fetchrow(queries.REQUIRE_SPAN, package)
    return (last is not None if package == ALL_PACKAGES else exists), (first, last)


@api_view
async def recent(request: web.Request) -> web.StreamResponse:
    package = params.package(request.match_info["package"])
    period = params.period(request.query)

    async def build(conn: asyncpg.Connection) -> Entry:
        # One round trip: the existence check, the last complete day and the three totals.
        exists, day, *found = await conn.fetchrow(queries.RECENT, package)
        if not (day is not None if package == ALL_PACKAGES else exists):
            raise PackageNotFound(package)
        totals = {p: int(n or 0) for p, n in zip(rollups.PERIODS, found, strict=True)}
        data = {f"last_{p}": n for p, n in totals.items() if period in (None, p)}
        return Entry.build(dumps({"data": data, "package": package, "type": "recent_downloads"}), JSON, day)

    return await cached(request, f"recent:{package}:{period or '*'}", build)


def series_view(dimension: str, parse: Callable[[Any], params.SeriesQuery]) -> View:
    """A time series: the window's days (``/version?group=&spec=``: summed by version group,
    shared.versions; ``?limit=N``: top N over the window), per day as
    pypistats.org answers, or summed per week, month or year with their ``partial`` flags."""
    type_name = f"{dimension}_downloads"

    @api_view
    async def view(request: web.Request) -> web.StreamResponse:
        package = params.package(request.match_info["package"])
        query = parse(request.query)
        state = request.app[STATE]
        names = state.names
        version = state.cache.watcher.current  # the aggregator's, also with the body cache off
        span_key = None if version is None or request.app[READER].separate else version.key

        async def build(conn: asyncpg.Connection) -> Entry:
            span = state.spans.get(span_key)
            checked = span is None
            if span is None:
                exists, span = await _span(conn, package)
                state.spans.put(span_key, span)
                if not exists:
                    raise PackageNotFound(package)
            first, day = span
            window = query.window(first, day)
            matrix = series.Matrix.empty()
            if window is not None:
                monthly = query.bin in ("month", "year")
                matrix = await series.series_matrix(
                    conn, names, package, dimension, query.category, *window, monthly=monthly
                )
            if not checked and not matrix.categories:  # no row in the window: does it exist at all?
                await _require(conn, package)
            if window is not None and query.grouping is not None:
                matrix = versions.group_matrix(matrix, query.grouping)
            if window is not None and query.limit is not None:
                matrix = series.top_matrix(matrix, query.limit)
            if window is None or query.bin == "day":
                return Entry.build(series_body(matrix, package, type_name), JSON, day)
            return Entry.build(binned_body(matrix, query.bin, *window, package, type_name), JSON, day)

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
platform = series_view("platform", params.platform)
abi = series_view("abi", params.abi)


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
