"""Wiring of the web service: the app factory, its resources, middleware and the CLI.

Owns ``create_app(settings)`` (PostgreSQL pools: reads on ``READ_DATABASE_URL`` with the primary as
the fallback of a lagging replica, see shared.db.replica; optional Redis, the PyPI client, sessions, page
cache, templates, security headers and HTML error pages) and ``main()`` (``python -m services.web
serve``, and ``fake-pypi``, the fake PyPI ``make run`` starts). Redis is optional: when it is down the site serves from PostgreSQL, logged out, and
one shared.redis_gate.RedisGate (page cache, PyPI cache, sessions) skips it for a few seconds
after each failure, so a hung Redis costs one timeout, not one per page
(``pypistats_web_redis_up`` tells).
NATS is optional too: the FastStream listener of ``rollups.updated`` (shared.listen) re-reads the
cache version at once when a day is committed, and the version is re-read on a timer without it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web
from faststream.nats import NatsRouter
from markupsafe import Markup, escape
from prometheus_client import CollectorRegistry, Gauge

from services.web import fakepypi, views
from services.web.config import WebSettings
from services.web.pagebytes import PAGE_BYTES, PageBytes, SharedBytes
from services.web.pagecache import KnownVersion, PageCache
from services.web.pages import PageError, Site
from services.web.pypi import FAILURE_TTL_S, PyPIClient
from services.web.routes import setup_routes
from services.web.static import STATIC, StaticFiles
from shared import workers
from shared.cache import CacheKeys
from shared.config import load_settings
from shared.db.gate import RETRY_AFTER_S, is_unavailable
from shared.db.replica import ReplicaMetrics
from shared.events import RollupsUpdated, Subjects
from shared.listen import listener_ctx, rollups_router
from shared.logging import configure_logging, get_logger
from shared.metrics import Handler, HttpMetrics, metric_name
from shared.openapi import openapi_document as api_document
from shared.redis_gate import RedisGate
from shared.sessions import SessionStore
from shared.tasks import stop_task
from shared.web import OPS_PATHS, PG_POOL, READER, REDIS, init_ops, read_pools_ctx, redis_ctx

log = get_logger(__name__)

SETTINGS = web.AppKey("settings", WebSettings)
#: sha256 of the empty string. Plotly.js appends an *empty* ``<style>`` element and fills it through
#: the CSSOM (``sheet.insertRule``), which CSP does not govern; allowing this one hash admits empty
#: style elements and nothing else: no inline CSS in markup, no ``'unsafe-inline'``, and scripts stay
#: ``'self'`` only.
EMPTY_STYLE_HASH = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
CSP = (
    f"default-src 'self'; script-src 'self'; style-src 'self' {EMPTY_STYLE_HASH}; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """HTML error pages for 4xx/5xx (ops routes keep their JSON)."""
    try:
        return await handler(request)
    except PageError as exc:
        return await views.error_page(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400 or request.path in OPS_PATHS:
            raise
        messages = {
            404: "There is no page at this address.",
            405: "This address does not accept that method.",
        }
        error = PageError(exc.status, exc.reason, messages.get(exc.status, exc.reason))
        response = await views.error_page(request, error)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if is_unavailable(exc):  # PostgreSQL is away (shared.db.gate): a quick 503, no hang
            response = await views.error_page(
                request,
                PageError(
                    503,
                    "Temporarily unavailable",
                    "The download statistics cannot be read right now; please try again in a few seconds.",
                ),
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            return response
        log.exception("unhandled error", path=request.path)
        return await views.error_page(
            request, PageError(500, "Something went wrong", "The page failed to render; please try again.")
        )


def inline_code(text: str) -> Markup:
    """Escape ``text`` and show its `backtick` spans as <code> (the OpenAPI prose uses them)."""
    escaped = str(escape(text))
    return Markup(re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped))


def create_app(settings: WebSettings, *, openapi_document: dict[str, Any] | None = None) -> web.Application:
    registry = CollectorRegistry()
    metrics = HttpMetrics("web", registry).middleware()
    app = web.Application(middlewares=[metrics, error_pages])
    init_ops(app, registry)
    app[SETTINGS] = settings
    app[STATIC] = StaticFiles()
    app[views.OPENAPI] = openapi_document if openapi_document is not None else api_document()
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = app[STATIC].url
    env.filters["inline_code"] = inline_code
    app.cleanup_ctx.append(
        read_pools_ctx(
            settings.database_url,
            settings.read_database_url,
            "pypistats-web",
            max_size=10,
            primary_size=settings.primary_pool_size,
            wait_seconds=settings.replica_wait_seconds,
            metrics=ReplicaMetrics("web", registry),
        )
    )
    app.cleanup_ctx.append(redis_ctx(settings.redis_url, required=False))
    app.cleanup_ctx.append(_resources(env, registry))
    subjects = Subjects(settings.namespace)
    app.cleanup_ctx.append(listener_ctx(settings.nats_url, lambda app: events_router(app, subjects), "web"))
    app.on_response_prepare.append(security_headers)
    setup_routes(app)
    return app


def _resources(env: jinja2.Environment, registry: CollectorRegistry) -> Any:
    redis_up = Gauge(
        metric_name("web", "redis_up"),
        "1 while Redis answers, 0 while the site runs without it (no page cache, logged out).",
        registry=registry,
    )

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        keys = CacheKeys(settings.redis_prefix)
        redis = app[REDIS]
        gate = app[views.REDIS_GATE] = RedisGate(redis, redis_up)
        app[views.SITE] = Site(app[PG_POOL], env, settings.retention_days)
        known = KnownVersion(gate, keys, settings.cache_version_refresh_seconds)
        app[views.PAGE_CACHE] = PageCache(gate, keys, settings.page_cache_ttl, registry, app[READER], known)
        app[PAGE_BYTES] = PageBytes(
            settings.page_local_cache_mb * 1024 * 1024 if settings.page_cache_ttl else 0,
            min(settings.page_cache_ttl, settings.pypi_cache_ttl or FAILURE_TTL_S),
            FAILURE_TTL_S,
            registry,
            SharedBytes(gate, keys),
        )
        await known.refresh()
        refresher = asyncio.create_task(known.run(), name="web-cache-version")
        app[views.SESSIONS] = SessionStore(
            redis,
            settings.redis_prefix,
            settings.session_secret.get_secret_value(),
            settings.session_ttl_seconds,
        )
        async with aiohttp.ClientSession(headers={"User-Agent": "pypistats-next web"}) as session:
            app[views.PYPI] = PyPIClient(
                session, settings.pypi_url, settings.pypi_timeout, gate, keys, settings.pypi_cache_ttl
            )
            yield
        known.stop()
        await stop_task(refresher, 5.0)

    return ctx


def events_router(app: web.Application, subjects: Subjects) -> NatsRouter:
    """The web service's subscriber on ``rollups.updated``: learn the new cache version at once."""
    cache = app[views.PAGE_CACHE]

    async def on_update(event: RollupsUpdated) -> None:
        if cache.known is not None:
            await cache.known.refresh()

    return rollups_router(subjects, "web", on_update)


def events_document() -> NatsRouter:
    """What the web service declares on NATS, for the AsyncAPI document (``pypistats.events``)."""

    async def nothing(event: RollupsUpdated) -> None:
        return None

    return rollups_router(Subjects(), "web", nothing)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.web", description="The pypistats web site.")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the web site (the default)")
    serve.add_argument("--port", type=int, default=None, help="override PORT")
    fake = sub.add_parser("fake-pypi", help="a fake PyPI JSON API inventing every project (make run)")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8084)
    args = parser.parse_args(argv)
    settings = load_settings(WebSettings)
    configure_logging(settings.log_level, settings.json_logs)
    if args.command == "fake-pypi":
        log.info("fake pypi listening", host=args.host, port=args.port)
        web.run_app(
            fakepypi.create_app({}, invent=True), host=args.host, port=args.port, access_log=None, print=None
        )
        return
    port = args.port if getattr(args, "port", None) is not None else settings.port
    log.info("web starting", host=settings.ops_host, port=port)
    code = workers.serve(
        lambda: create_app(settings),
        service="web",
        host=settings.ops_host,
        port=port,
        workers=settings.workers,
    )
    if code:
        raise SystemExit(code)
