"""aiohttp glue shared by the HTTP services and the workers' ops servers.

Owns the typed app keys, the cleanup contexts that open and close PostgreSQL (for api and web:
the read pool, and the primary pool a lagging read replica falls back to; shared.db.replica) and
Redis, the JSON error middleware (a database known to be away, shared.db.gate, is a JSON 503 with
``Retry-After``, not a 500), and the ops routes ``/health`` (the process is up), ``/ready`` (every
dependency answers, all checked at once within ``READY_TIMEOUT_S``; the body names checks, never
URLs or secrets) and ``/metrics``. The request-serving pools are gated (shared.db.gate).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge
from redis.asyncio import BlockingConnectionPool, Redis

from shared.config import reads_elsewhere
from shared.db.gate import RETRY_AFTER_S, DatabaseGate, is_unavailable
from shared.db.pool import ReaderConnection, create_pool
from shared.db.replica import ReadRouter, ReplicaConnection, ReplicaMetrics
from shared.logging import get_logger
from shared.metrics import Handler, exposition, metric_name

ReadyCheck = Callable[[], Awaitable[object]]

REGISTRY = web.AppKey("registry", CollectorRegistry)
READY_CHECKS = web.AppKey("ready_checks", dict[str, ReadyCheck])
PG_POOL = web.AppKey("pg_pool", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)
READER = web.AppKey("read_router", ReadRouter)
DB_GATE = web.AppKey("database_gate", DatabaseGate)

READY_TIMEOUT_S = 2.0
#: Socket and connect timeout of the Redis clients: a Redis that hangs costs at most this per call.
REDIS_TIMEOUT_S = 2.0
#: Redis connections of one process; more concurrent commands wait for one (REDIS_TIMEOUT_S at most).
REDIS_MAX_CONNECTIONS = 64
POOL_CLOSE_TIMEOUT_S = 10.0
PRIMARY_CONNECT_TIMEOUT_S = 5.0
#: Connect timeout of the request-serving pools: a database that hangs costs at most this.
CONNECT_TIMEOUT_S = 5.0
OPS_PATHS = frozenset({"/health", "/ready", "/metrics"})

log = get_logger(__name__)


def json_error(status: int, message: str, parameter: str | None = None, **headers: str) -> web.Response:
    """``{"error": {"status": ..., "message": ..., "parameter": ...}}`` with the given status."""
    error: dict[str, Any] = {"status": status, "message": message}
    if parameter is not None:
        error["parameter"] = parameter
    return web.json_response({"error": error}, status=status, headers=headers, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


async def answer_with_json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Call ``handler``; turn every HTTP error and unexpected exception into a JSON error body."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        extra = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return json_error(exc.status, exc.reason, **extra)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if is_unavailable(exc):  # the gate (shared.db.gate) says so, or a query just lost it
            return database_unavailable()
        log.exception("unhandled error", path=request.path)
        return json_error(500, "internal server error")


def strong_etag(body: bytes) -> str:
    """A strong ETag of ``body``: 96 bits of its SHA-1 (a fingerprint, not a security boundary;
    about twice as fast as BLAKE2b here, and it is taken for every uncached answer)."""
    return '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:24] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, ``*`` matches): the
    304 test of the api's bodies and the web's cached pages."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def database_unavailable() -> web.Response:
    """The JSON 503 of a request that needs PostgreSQL while it is away."""
    return json_error(
        503, "the database is unavailable; retry shortly", **{"Retry-After": str(RETRY_AFTER_S)}
    )


#: :func:`answer_with_json_errors` as a middleware.
json_error_middleware = web.middleware(answer_with_json_errors)


def pg_pool_ctx(
    dsn: str, application_name: str, max_size: int = 10
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        gate = app[DB_GATE] = _gate(app, application_name)
        pool = await create_pool(
            dsn,
            application_name=application_name,
            max_size=max_size,
            connect_timeout=CONNECT_TIMEOUT_S,
            gate=gate,
        )
        app[PG_POOL] = pool
        app[READY_CHECKS]["database"] = pool.probe
        yield
        await close_pool(pool)

    return ctx


async def close_pool(pool: asyncpg.Pool) -> None:
    """Close ``pool``; a request stuck in a query would hold shutdown forever, so after a grace
    period the remaining connections are terminated."""
    try:
        await asyncio.wait_for(pool.close(), POOL_CLOSE_TIMEOUT_S)
    except TimeoutError:
        log.warning("database pool did not close in time: terminating", timeout=POOL_CLOSE_TIMEOUT_S)
        pool.terminate()


def read_pools_ctx(
    database_url: str,
    read_database_url: str,
    application_name: str,
    *,
    max_size: int,
    primary_size: int,
    wait_seconds: float,
    metrics: ReplicaMetrics,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The pools of a reading service: ``PG_POOL`` on ``read_database_url`` (``database_url`` when
    empty) and the :class:`ReadRouter` under ``READER``. With a separate read URL the router also
    gets a small pool on the primary, opened on demand, so the service starts and stays ready
    (``/ready`` checks the read pool) while the primary is away."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        separate = reads_elsewhere(database_url, read_database_url)
        gate = app[DB_GATE] = _gate(app, application_name)
        if not separate:
            pool = await create_pool(
                database_url,
                application_name=application_name,
                max_size=max_size,
                connection_class=ReaderConnection,
                connect_timeout=CONNECT_TIMEOUT_S,
                gate=gate,
            )
            primary = None
        else:
            pool = await create_pool(
                read_database_url,
                application_name=application_name,
                max_size=max_size,
                connection_class=ReplicaConnection,
                connect_timeout=CONNECT_TIMEOUT_S,
                gate=gate,
            )
            primary = await create_pool(
                database_url,
                application_name=f"{application_name}-primary",
                min_size=0,
                max_size=primary_size,
                connect_timeout=PRIMARY_CONNECT_TIMEOUT_S,
                connection_class=ReaderConnection,
            )
            log.info("reading from a replica", primary_pool_size=primary_size, replica_wait_s=wait_seconds)
        app[PG_POOL] = pool
        app[READER] = ReadRouter(pool, primary, wait_seconds, metrics if separate else None)
        app[READY_CHECKS]["database"] = pool.probe
        yield
        await asyncio.gather(close_pool(pool), *([close_pool(primary)] if primary is not None else []))

    return ctx


def _gate(app: web.Application, application_name: str) -> DatabaseGate:
    """The database gate of a service, with its ``pypistats_<service>_database_up`` gauge."""
    service = application_name.removeprefix("pypistats-").replace("-", "_")
    up = Gauge(
        metric_name(service, "database_up"),
        "1 while PostgreSQL answers, 0 while requests that need it are answered 503 at once.",
        registry=app[REGISTRY],
    )
    return DatabaseGate(up)


def redis_ctx(url: str, *, required: bool = True) -> Callable[[web.Application], AsyncIterator[None]]:
    """Open a Redis client. ``required=False`` keeps ``/ready`` green when Redis is down."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        # A refused connection fails at once; the timeouts bound a Redis that hangs (and a loaded
        # host). The pool waits for a free connection (up to the same timeout) rather than raise
        # MaxConnectionsError, which the Redis gate would take for an outage under a burst.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=REDIS_MAX_CONNECTIONS,
            timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )
        client = Redis.from_pool(pool)
        app[REDIS] = client
        if required:
            app[READY_CHECKS]["redis"] = client.ping
        yield
        await client.aclose()

    return ctx


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    results = await run_ready_checks(request.app[READY_CHECKS])
    ok = all(v == "ok" for v in results.values())
    return web.json_response(
        {"status": "ok" if ok else "unavailable", "checks": results}, status=200 if ok else 503
    )


async def run_ready_checks(checks: dict[str, ReadyCheck]) -> dict[str, str]:
    """Every check at once, each within ``READY_TIMEOUT_S``: ``/ready`` answers within that bound."""

    async def one(check: ReadyCheck) -> str:
        try:
            await asyncio.wait_for(check(), READY_TIMEOUT_S)
            return "ok"
        except Exception as exc:  # the type only: messages can carry hosts or credentials
            return f"failed: {type(exc).__name__}"

    outcomes = await asyncio.gather(*(one(check) for check in checks.values()))
    return dict(zip(checks, outcomes, strict=True))


async def metrics(request: web.Request) -> web.Response:
    return exposition(request.app[REGISTRY])


def init_ops(app: web.Application, registry: CollectorRegistry) -> None:
    """Register the registry, an empty set of ready checks and the three ops routes."""
    app[REGISTRY] = registry
    app[READY_CHECKS] = {}
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)


class OpsServer:
    """A small HTTP server with only the ops routes, for the two workers (ingest, aggregator)."""

    def __init__(
        self, registry: CollectorRegistry, checks: dict[str, ReadyCheck], host: str, port: int
    ) -> None:
        self.app = web.Application()
        init_ops(self.app, registry)
        self.app[READY_CHECKS].update(checks)
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        log.info("ops server listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
