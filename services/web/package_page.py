"""The package page's handler: its whole-page bytes (services.web.pagebytes) per login state.

Owns how a request for ``/packages/<name>`` is answered: a logged-out visit from the cached bytes
(memory, then Redis) with no rendering, gzip when the browser takes it, 304 on a matching ETag; a
logged-in visit from the cached shell with its own login state and track form rendered in; a miss
builds the shell once per process (single flight) from the cached fragment (services.web.pagecache),
the layout and PyPI's metadata and release markers, and keeps it only when it may be kept under
the current cache version.
"""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web
from markupsafe import Markup

from services.web import pages, ranges
from services.web.pagebytes import ACCOUNT_SLOT, PAGE_BYTES, TRACK_SLOT, Entry, Shell, accepts_gzip
from services.web.pypi import Metadata
from services.web.views import (
    PACKAGE_SCRIPTS,
    PAGE_CACHE,
    PYPI,
    SITE,
    choice,
    current_session,
    login_url,
    package_name,
    release_json,
)
from shared import rollups
from shared.packages import ALL_PACKAGES
from shared.web import etag_matches


async def package(request: web.Request) -> web.Response:
    """The package page from its whole-page bytes (services.web.pagebytes): a logged-out visit is
    answered with cached bytes and their ETag (304 when the browser has them); a logged-in one
    gets the cached shell with its own login state and track form joined in."""
    name = package_name(request)
    asked = choice(request)
    cache = request.app[PAGE_BYTES]
    known = request.app[PAGE_CACHE].known
    current = known.current if known is not None and cache.max_bytes else None
    version = current.number if current is not None else None
    session = await current_session(request)
    now = time.monotonic()
    if session is None and version is not None:
        entry = cache.entry(version, request.path_qs, now)
        if entry is not None:
            cache.requests.labels("hit").inc()
            return logged_out(request, entry)
        if cache.shared is not None:
            entry = await cache.shared.get(version, request.path_qs, now)
            if entry is not None:
                cache.requests.labels("shared").inc()
                cache.put_entry(version, request.path_qs, entry)
                return logged_out(request, entry)
    params = json.dumps({"p": name, **asked.key}, sort_keys=True, default=str)
    shell = cache.shell(version, params, now) if version is not None else None
    if shell is None:
        cache.requests.labels("miss" if version is not None else "bypass").inc()

        async def build() -> tuple[Shell, bool]:
            return await package_shell(request, name, asked, now)

        built, cacheable = await cache.flights.run((version, params), build)
        shell = built
        if not cacheable:
            version = None  # built from a replica behind the version, or without Redis: not kept
        if version is not None and session is not None:  # logged out: only the entry is kept
            cache.put_shell(version, params, shell)
    else:
        cache.requests.labels("shell").inc()
    site = request.app[SITE]
    is_all = name == ALL_PACKAGES
    if session is None:
        login = login_url(request)
        body = shell.fill(
            pages.render(site.env, "_account.html", session=None, login_url=login, here=request.path_qs),
            pages.render(site.env, "_track.html", package=name, is_all=is_all, session=None, login_url=login),
        )
        entry = Entry.build(body, shell.expires)
        if version is not None:
            cache.put_entry(version, request.path_qs, entry)
            if cache.shared is not None:
                await cache.shared.put(version, request.path_qs, entry, now)
        return logged_out(request, entry)
    tracked = not is_all and name in await rollups.tracked_packages(site.pool, session.user_id)
    body = shell.fill(
        pages.render(
            site.env, "_account.html", session=session, login_url=login_url(request), here=request.path_qs
        ),
        pages.render(
            site.env,
            "_track.html",
            package=name,
            is_all=is_all,
            session=session,
            tracked=tracked,
            next_url=request.path_qs,
        ),
    )
    return web.Response(
        body=body,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "private, no-store", "Vary": "Cookie"},
    )


def logged_out(request: web.Request, entry: Entry) -> web.Response:
    """A logged-out page, gzip-compressed when the browser takes it: 304 when the browser holds
    these bytes. Any cache may keep it but must ask again each time (a new day changes it);
    ``Vary: Cookie`` keeps it from a logged-in visitor behind a shared cache (the web service never
    sets a cookie: sessions are the auth service's)."""
    compressed = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    etag = entry.gzip_etag if compressed else entry.etag
    headers = {"ETag": etag, "Cache-Control": "public, no-cache", "Vary": "Cookie, Accept-Encoding"}
    if etag_matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    if compressed:
        headers["Content-Encoding"] = "gzip"
    return web.Response(
        body=entry.gzipped if compressed else entry.body,
        content_type="text/html",
        charset="utf-8",
        headers=headers,
    )


async def package_shell(
    request: web.Request, name: str, asked: ranges.Choice, now: float
) -> tuple[Shell, bool]:
    """The package page rendered with its per-visitor parts as slots: the cached fragment
    (services.web.pagecache), the layout, and PyPI's metadata and release markers, fetched beside
    the fragment so it never waits on PyPI. The shell lives until the metadata cache could have
    changed (a shorter while when PyPI failed and the page has no metadata). With it, whether it
    may be kept under the current version (services.web.pagecache)."""
    site = request.app[SITE]
    cache = request.app[PAGE_BYTES]
    fragment = request.app[PAGE_CACHE].get_or_build_cacheable(
        "package", {"p": name, **asked.key}, lambda conn: pages.package(site.using(conn), name, asked)
    )
    metadata: asyncio.Future[Metadata | None] | None = None
    if name != ALL_PACKAGES:
        metadata = asyncio.ensure_future(request.app[PYPI].get(name))
    try:
        data, cacheable = await fragment
    except BaseException:
        if metadata is not None:
            metadata.cancel()
        raise
    meta = await metadata if metadata is not None else None
    head = pages.render(
        site.env,
        "package_head.html",
        package=name,
        is_all=name == ALL_PACKAGES,
        meta=meta,
        release_json=release_json(meta, data.get("history_from")),
        track=TRACK_SLOT,
    )
    html = pages.render(
        site.env,
        "layout.html",
        title=data["title"],
        content=Markup(data["html"]),
        head=Markup(head),
        through=data.get("through"),
        history_from=data.get("history_from"),
        account=ACCOUNT_SLOT,
        scripts=PACKAGE_SCRIPTS,
    )
    missing = meta is None and name != ALL_PACKAGES
    return Shell.cut(html, now + (cache.failure_lifetime if missing else cache.lifetime)), cacheable
