"""Wiring of the api service: the app factory, its middleware and the ``serve`` command.

Owns how the pieces are put together: the PostgreSQL pools (the read pool on
``READ_DATABASE_URL``, and the primary one a lagging replica falls back to) and the Redis client
opened in ``cleanup_ctx``, the body cache and rate limiter built on them (and the background task that
re-reads the cache version), the FastStream listener of ``rollups.updated`` that drops the
in-process bodies at once (shared.listen; the API starts and serves without NATS), the one middleware (services.api.middleware: metrics, rate limit
and CORS, JSON errors) and the ops routes.

Shutdown is bounded: a request still running gets ``SHUTDOWN_TIMEOUT_SECONDS`` to finish and as
many again once told to stop before aiohttp cancels it, each background task a few seconds
(shared.tasks), the Redis client its socket timeout and the database pools 10 s before their
connections are terminated (shared.web).

Readiness: ``/ready`` checks the database (the read pool) only. The API can answer every request without Redis
(cache misses go to PostgreSQL, the rate limiter fails open), so an outage of Redis must not take
every replica out of the load balancer; its state is exported instead as the gauge
``pypistats_api_redis_up`` (and logged when it changes).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
from collections.abc import AsyncIterator, Callable, Sequence

from aiohttp import web
from faststream.nats import NatsRouter
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.api.cache import BodyCache, CacheControl, Entry, VersionWatcher
from services.api.config import ApiSettings
from services.api.exports import EXPORTS, Exports
from services.api.middleware import BADGE_LIMITER, LIMITER, api_middleware
from services.api.ratelimit import RateLimiter
from services.api.routes import setup_routes
from services.api.views import JSON, STATE, ApiState, dumps
from shared import workers
from shared.asyncapi import asyncapi_document
from shared.cache import CacheKeys
from shared.config import load_settings
from shared.db.replica import ReplicaMetrics
from shared.events import RollupsUpdated, Subjects
from shared.flight import SingleFlight
from shared.listen import listener_ctx, rollups_router
from shared.logging import configure_logging, get_logger
from shared.metrics import HttpMetrics, metric_name
from shared.openapi import openapi_document
from shared.redis_gate import RedisGate
from shared.tasks import stop_task
from shared.web import REDIS, REDIS_TIMEOUT_S, init_ops, read_pools_ctx, redis_ctx

SERVICE = "api"
SETTINGS = web.AppKey("api_settings", ApiSettings)
MAX_LINE = 65536
#: How long shutdown waits for each background task (cache-version refresher, rate-limit
#: reservations): one Redis call's timeout, plus a second.
BACKGROUND_STOP_S = REDIS_TIMEOUT_S + 1.0

log = get_logger(__name__)


def _state_ctx(
    settings: ApiSettings, registry: CollectorRegistry
) -> Callable[[web.Application], AsyncIterator[None]]:
    cache_requests = Counter(
        metric_name(SERVICE, "cache_requests"),
        "Response-cache lookups by result (hit, miss, stale, error, disabled).",
        ["result"],
        registry=registry,
    )
    limited = Counter(metric_name(SERVICE, "rate_limited"), "Requests refused with 429.", registry=registry)
    joined = Counter(
        metric_name(SERVICE, "cache_builds_joined"),
        "Cache misses answered by a build another request of this process had already started.",
        registry=registry,
    )
    redis_up = Gauge(
        metric_name(SERVICE, "redis_up"),
        "1 while Redis answers, 0 while the API runs without it.",
        registry=registry,
    )

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        keys = CacheKeys(settings.redis_prefix)
        gate = RedisGate(app[REDIS], redis_up)
        watcher = VersionWatcher(gate, keys, settings.cache_version_refresh_seconds)
        app[STATE] = ApiState(
            cache=BodyCache(
                gate,
                keys,
                settings.cache_ttl_seconds,
                cache_requests,
                watcher,
                settings.local_cache_mb << 20,
                settings.cache_stale_seconds,
            ),
            cache_control=CacheControl(settings.update_time, settings.min_max_age_seconds),
            openapi=Entry.build(dumps(openapi_document("/")), JSON, None),
            asyncapi=Entry.build(dumps(asyncapi_document()), JSON, None),
            flights=SingleFlight(joined),
        )
        app[LIMITER] = RateLimiter(
            gate,
            keys,
            settings.rate_limit_requests,
            settings.rate_limit_window_seconds,
            settings.overrides,
            limited,
        )
        app[BADGE_LIMITER] = RateLimiter(
            gate,
            keys,
            settings.badge_rate_limit_requests,
            settings.rate_limit_window_seconds,
            settings.badge_overrides,
            limited,
            scope="ratelimit-badge",
        )
        # The version is watched even with the body cache off: series reads key the history's
        # span on it (views.SpanCache).
        await watcher.refresh()
        refresher = asyncio.create_task(watcher.run(), name="api-cache-version")
        yield
        # Bounded: a Redis call gives up after its socket timeout, and a cancellation lost inside
        # one (shared.tasks) is repeated; the flag ends the loop in any case.
        watcher.stop()
        await asyncio.gather(
            app[LIMITER].close(BACKGROUND_STOP_S),
            app[BADGE_LIMITER].close(BACKGROUND_STOP_S),
            stop_task(refresher, BACKGROUND_STOP_S),
        )

    return ctx


def create_app(settings: ApiSettings) -> web.Application:
    registry = CollectorRegistry()
    middleware = api_middleware(
        HttpMetrics(SERVICE, registry), settings.proxy_hops, settings.rate_limit_window_seconds
    )
    # Request lines up to 64 kB reach the handlers, so even absurd names get a JSON 400 from us
    # rather than aiohttp's plain-text one.
    app = web.Application(middlewares=[middleware], handler_args={"max_line_size": MAX_LINE})
    app[SETTINGS] = settings
    app[EXPORTS] = Exports(settings.export_dir)
    init_ops(app, registry)
    app.cleanup_ctx.append(
        read_pools_ctx(
            settings.database_url,
            settings.read_database_url,
            "pypistats-api",
            max_size=settings.db_pool_size,
            primary_size=settings.primary_pool_size,
            wait_seconds=settings.replica_wait_seconds,
            metrics=ReplicaMetrics(SERVICE, registry),
        )
    )
    app.cleanup_ctx.append(redis_ctx(settings.redis_url, required=False))
    app.cleanup_ctx.append(_state_ctx(settings, registry))
    subjects = Subjects(settings.namespace)
    app.cleanup_ctx.append(listener_ctx(settings.nats_url, lambda app: events_router(app, subjects), SERVICE))
    setup_routes(app)
    return app


def events_router(app: web.Application, subjects: Subjects) -> NatsRouter:
    """The API's subscriber on ``rollups.updated``: drop the in-process bodies, re-read the version."""
    cache = app[STATE].cache

    async def on_update(event: RollupsUpdated) -> None:
        await cache.watcher.changed(cache)

    return rollups_router(subjects, SERVICE, on_update)


def events_document() -> NatsRouter:
    """What the API declares on NATS, for the AsyncAPI document (entry point ``pypistats.events``)."""

    async def nothing(event: RollupsUpdated) -> None:
        return None

    return rollups_router(Subjects(), SERVICE, nothing)


async def _freeze_heap(app: web.Application) -> None:
    """Move what start-up allocated (modules, settings, pools) out of the garbage collector's
    sight, so the collections that per-request garbage triggers do not walk it every time."""
    gc.collect()
    gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.api", description="The JSON API.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the API on OPS_HOST:PORT")
    parser.parse_args(argv)
    settings = load_settings(ApiSettings)
    configure_logging(settings.log_level, settings.json_logs)
    log.info("api starting", host=settings.ops_host, port=settings.port)

    def make_app() -> web.Application:
        app = create_app(settings)
        app.on_startup.append(_freeze_heap)
        return app

    return workers.serve(
        make_app,
        service=SERVICE,
        host=settings.ops_host,
        port=settings.port,
        workers=settings.workers,
        shutdown_timeout=settings.shutdown_timeout_seconds,
    )
