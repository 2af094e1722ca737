"""HTTP handlers: parse and validate the request, fetch the (cached) fragment, wrap it in the layout.

Owns input handling (package names, the range, bin and scale of the chart pages, search queries,
compare lists), redirects,
and the per-request, personal parts of a page: the login state in the header, the track/untrack
forms on package pages and the ``/user`` dashboard; also the package header's PyPI metadata and
the charts' release markers beside the cached fragment (:func:`release_json`), so that fragment
never waits on PyPI. The package page itself is served by services.web.package_page. Sessions
are read, never written.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from markupsafe import Markup

from services.web import charts, discovery_page, pages, ranges, trends
from services.web.pagecache import PageCache
from services.web.pages import PageError, Site
from services.web.pypi import Metadata, PyPIClient
from shared.packages import InvalidPackageName, normalize, validate
from shared.redis_gate import REDIS_ERRORS, RedisGate
from shared.sessions import COOKIE_NAME, Session, SessionStore

SITE = web.AppKey("site", Site)
PAGE_CACHE = web.AppKey("page_cache", PageCache)
PYPI = web.AppKey("pypi", PyPIClient)
SESSIONS = web.AppKey("sessions", SessionStore)
REDIS_GATE = web.AppKey("redis_gate", RedisGate)
OPENAPI = web.AppKey("openapi", dict)
MAX_QUERY = 200
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: The scripts of a page with charts: Plotly's bundle, then ours.
CHART_SCRIPTS = ("plotly-basic.min.js", "trends.js", "app.js")
#: A package page's: the charts', and the badge builder's.
PACKAGE_SCRIPTS = (*CHART_SCRIPTS, "badges.js")
#: What the dashboard says when the auth service sent a form back with ``?error=<code>``.
TRACK_ERRORS = {
    "unknown": "We have no downloads recorded for “{package}”, so it cannot be tracked.",
    "invalid": "“{package}” is not a valid package name.",
    "limit": "You already track the maximum number of packages: remove one before adding another.",
}


async def current_session(request: web.Request) -> Session | None:
    """The visitor's session; None when logged out, and while Redis is down (the gate is open)."""
    store, gate = request.app.get(SESSIONS), request.app.get(REDIS_GATE)
    if store is None or gate is None:
        return None
    session_id = store.session_id(request.cookies.get(COOKIE_NAME))
    if session_id is None or gate.client() is None:
        return None
    try:
        session = await store.get(session_id)
    except REDIS_ERRORS as exc:
        gate.failed(exc)
        return None
    gate.succeeded()
    return session


def login_url(request: web.Request) -> str:
    return "/auth/login?next=" + quote(request.path_qs, safe="")


async def page(
    request: web.Request,
    data: dict[str, Any],
    *,
    status: int = 200,
    head: str = "",
    scripts: tuple[str, ...] = (),
    session: Session | None = None,
    with_session: bool = True,
) -> web.Response:
    """The layout around a fragment, with this visitor's login state; ``scripts`` are static file
    names loaded (deferred) in the head."""
    site = request.app[SITE]
    if session is None and with_session:
        session = await current_session(request)
    html = pages.render(
        site.env,
        "layout.html",
        title=data["title"],
        content=Markup(data["html"]),
        head=Markup(head),
        through=data.get("through"),
        history_from=data.get("history_from"),
        session=session,
        login_url=login_url(request),
        here=request.path_qs,
        scripts=scripts,
    )
    return web.Response(text=html, status=status, content_type="text/html")


def package_name(request: web.Request) -> str:
    """The validated, normalised name; a non-canonical spelling redirects (301) to the canonical page."""
    raw = request.match_info["name"]
    try:
        name = validate(raw)
    except InvalidPackageName as exc:
        raise PageError(400, "Invalid package name", str(exc)) from None
    if name != raw:
        tail = (
            request.path[len("/packages/") + len(raw) :]
            if request.path.startswith("/packages/" + raw)
            else ""
        )
        query = f"?{request.query_string}" if request.query_string else ""
        raise web.HTTPMovedPermanently(f"/packages/{name}{tail}{query}")
    return name


def choice(request: web.Request) -> ranges.Choice:
    """The range (``range`` or ``lookback``), ``bin`` and ``log`` asked for; a 400 page otherwise.
    The trend choices (services.web.trends) are checked too, though only the browser draws them."""
    try:
        trends.parse(request.query)
        return ranges.parse(request.query, request.app[SITE].max_lookback)
    except ranges.RangeError as exc:
        raise PageError(400, f"Invalid {exc.parameter}", exc.message) from None


async def home(request: web.Request) -> web.Response:
    site = request.app[SITE]
    data = await request.app[PAGE_CACHE].get_or_build("home", {}, lambda conn: pages.home(site.using(conn)))
    return await page(request, data)


async def search_form(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()
    if not query:
        raise web.HTTPFound("/")
    raise web.HTTPFound("/search/" + quote(query, safe=""))


async def search(request: web.Request) -> web.Response:
    raw = request.match_info["query"].strip()
    if len(raw) > MAX_QUERY:
        raise PageError(400, "Query too long", f"Search queries are limited to {MAX_QUERY} characters.")
    query = pages_query(raw)
    site = request.app[SITE]
    data = await request.app[PAGE_CACHE].get_or_build(
        "search", {"q": query}, lambda conn: pages.search(site.using(conn), query)
    )
    if data.get("redirect"):
        raise web.HTTPFound(data["redirect"])
    return await page(request, data)


def pages_query(raw: str) -> str:
    """A search query in the normalised form package names are stored in."""
    return normalize(raw.strip()).strip("-")


def release_json(meta: Metadata | None, history_from: str | None) -> Markup | None:
    """The release markers of a package page's charts: ``[{"version", "time"}, ...]`` of the
    releases uploaded since the first day kept (older ones are never on a chart), oldest first;
    None without metadata (PyPI slow or down: the page has no markers) or releases."""
    if meta is None or not meta.releases:
        return None
    since = history_from or ""
    found = [{"version": v, "time": t} for v, t in meta.releases if t[:10] >= since]
    return pages.script_json(found) if found else None


async def package_csv(request: web.Request) -> web.Response:
    name = package_name(request)
    asked = choice(request)
    chart = request.match_info["chart"]
    body = await pages.package_csv(request.app[SITE], name, chart, asked)
    return web.Response(
        text=body,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{chart}.csv"'},
    )


async def top(request: web.Request) -> web.Response:
    site = request.app[SITE]
    return await page(
        request,
        await request.app[PAGE_CACHE].get_or_build("top", {}, lambda conn: pages.top(site.using(conn))),
    )


async def trending(request: web.Request) -> web.Response:
    site = request.app[SITE]
    dimension, category, order = discovery_page.top_choice(request.query)
    query = {"dimension": dimension, "category": category, "order": order}
    data = await request.app[PAGE_CACHE].get_or_build(
        "trending", query, lambda conn: discovery_page.trending(site.using(conn), dimension, category, order)
    )
    return await page(request, data)


def compare_list(raw: str) -> list[str]:
    names: list[str] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            name = validate(part)
        except InvalidPackageName as exc:
            raise PageError(400, "Invalid package name", f"{part[:80]}: {exc}") from None
        if name not in names:
            names.append(name)
    if len(names) > pages.MAX_COMPARE:
        raise PageError(
            400, "Too many packages", f"At most {pages.MAX_COMPARE} packages can be compared at once."
        )
    return names


def compare_share(request: web.Request) -> tuple[str, str | None]:
    """``dimension`` (one of the compare page's) and ``category`` (printable, as stored; required
    unless the dimension is ``overall``)."""
    dimension = request.query.get("dimension") or "overall"
    if dimension not in charts.COMPARE_DIMENSIONS:
        raise PageError(400, "Unknown dimension", f"{dimension[:40]!r} cannot be compared.")
    category = request.query.get("category") or None
    if category is not None and (len(category) > 128 or CONTROL.search(category)):
        raise PageError(400, "Invalid category", "A category is at most 128 printable characters.")
    if dimension in ("overall", "people"):
        return dimension, None
    if category is None:
        raise PageError(400, "Which category?", "Give the category to compare, e.g. 3.12, Linux, pip or US.")
    return dimension, category


async def compare(request: web.Request) -> web.Response:
    raw = request.query.get("packages", "")
    if len(raw) > 4000:
        raise PageError(400, "Too many packages", "The package list is too long.")
    names = compare_list(raw)
    asked = choice(request)
    dimension, category = compare_share(request)
    site = request.app[SITE]
    data = await request.app[PAGE_CACHE].get_or_build(
        "compare",
        {"packages": names, **asked.key, "dimension": dimension, "category": category},
        lambda conn: pages.compare(site.using(conn), names, asked, dimension, category),
    )
    return await page(request, data, scripts=CHART_SCRIPTS if names else ())


async def ecosystem(request: web.Request) -> web.Response:
    """``__all__``'s shares over time and what changed in the last 30 days (cached like every page)."""
    asked = choice(request)
    site = request.app[SITE]
    data = await request.app[PAGE_CACHE].get_or_build(
        "ecosystem", asked.key, lambda conn: pages.ecosystem(site.using(conn), asked)
    )
    return await page(request, data, scripts=CHART_SCRIPTS)


async def suggest(request: web.Request) -> web.Response:
    """``{"query": ..., "packages": [...]}``: names for the search-as-you-type box."""
    raw = request.query.get("q", "")
    if len(raw) > MAX_QUERY:
        raise web.HTTPBadRequest(reason="query too long")
    query = pages_query(raw)
    site = request.app[SITE]
    data = await request.app[PAGE_CACHE].get_or_build(
        "suggest", {"q": query}, lambda conn: pages.suggest(site.using(conn), query)
    )
    return web.json_response(data, headers={"Cache-Control": "public, max-age=300"})


def static_page(template: str, title: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        site = request.app[SITE]
        data = await request.app[PAGE_CACHE].get_or_build(
            template, {}, lambda conn: pages.static(site.using(conn), template, title)
        )
        return await page(request, data)

    return handler


async def api_docs(request: web.Request) -> web.Response:
    site = request.app[SITE]
    document = request.app.get(OPENAPI)
    data = await request.app[PAGE_CACHE].get_or_build(
        "api", {}, lambda conn: pages.api_docs(site.using(conn), document)
    )
    return await page(request, data)


async def user(request: web.Request) -> web.Response:
    site = request.app[SITE]
    session = await current_session(request)
    dashboard = await pages.dashboard(site, session.user_id) if session else {"rows": []}
    if session is None:
        dashboard |= await pages.span(site)
    problem = TRACK_ERRORS.get(request.query.get("error", ""))
    refused = request.query.get("package", "")[:MAX_QUERY]
    html = pages.render(
        site.env,
        "user.html",
        session=session,
        login_url=login_url(request),
        problem=problem.format(package=refused) if problem else None,
        **dashboard,
    )
    title = f"{session.login}'s packages" if session else "Your packages"
    return await page(
        request,
        {
            "title": title,
            "html": html,
            "through": dashboard["through"],
            "history_from": dashboard["history_from"],
        },
        session=session,
        scripts=("suggest.js",) if session else (),
    )


async def error_page(request: web.Request, error: PageError) -> web.Response:
    """An HTML error page; never fails itself (no database or Redis needed)."""
    site = request.app[SITE]
    try:
        days = await asyncio.wait_for(pages.span(site), 1.0)
    except Exception:  # the database may be what failed
        days = dict(pages.NO_SPAN)
    try:
        html = pages.render(site.env, "error.html", error=error)
        return await page(
            request,
            {"title": error.title, "html": html, **days},
            status=error.status,
            with_session=error.status < 500,
        )
    except jinja2.TemplateError:
        return web.Response(text=error.message, status=error.status)
