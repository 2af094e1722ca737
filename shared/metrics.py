"""Prometheus helpers: per-app registries, HTTP request metrics and the exposition body.

Owns metric naming (``pypistats_<service>_...``). Each app or worker creates its own
:class:`~prometheus_client.CollectorRegistry` in its factory, so several apps can live in one
process (tests) without duplicate-registration errors, and nothing is registered at import time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def metric_name(service: str, name: str) -> str:
    return f"pypistats_{service}_{name}"


class HttpMetrics:
    """Requests by route and status, and a latency histogram, for one aiohttp service."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            metric_name(service, "http_requests"),
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            metric_name(service, "http_request_duration_seconds"),
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def middleware(self) -> Middleware:
        @web.middleware
        async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                route = _route_name(request)
                self.requests.labels(route, request.method, str(status)).inc()
                self.latency.labels(route).observe(time.perf_counter() - started)

        return metrics_middleware


def _route_name(request: web.Request) -> str:
    """The route template (never the raw path, which would explode label cardinality)."""
    info = request.match_info
    resource = info.route.resource if info.route is not None else None
    if resource is None or info.http_exception is not None:
        return "unmatched"
    return resource.canonical


def exposition(registry: CollectorRegistry) -> web.Response:
    """The text exposition of ``registry``; in a worker of several (shared.workers), of every
    worker's metrics summed (prometheus_client's multiprocess collector)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    body = generate_latest(registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
