"""The api's single middleware: request metrics, rate limiting with CORS and RateLimit-* headers,
and JSON errors, in one frame per request.

Owns what every answer of the API gets, in the order the three separate middlewares had before
(metrics outermost, then rate limit and CORS, then JSON errors around the handler): every request
is counted and timed under its route template (the metrics of shared.metrics.HttpMetrics, with the
labelled children looked up once); every request outside /health, /ready and /metrics is counted
against its client address (badges against a limit of their own) and refused with a JSON 429 (a badge: an image saying so) and ``Retry-After`` above its limit; every
answer gets CORS and ``RateLimit-*`` headers; every HTTP error and unexpected exception becomes a
JSON error body (shared.web.json_error). One frame instead of three matters on the cached path,
where the handler itself is a dictionary lookup.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from services.api import badge_views
from services.api.ratelimit import RateLimiter, client_address
from services.api.routes import BADGE_ROUTES
from shared.logging import get_logger
from shared.metrics import Handler, HttpMetrics
from shared.web import OPS_PATHS, answer_with_json_errors, json_error

EXPOSED = "ETag, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": EXPOSED}
MAX_CHILDREN = 4096  # label sets whose metric children are remembered (methods are client input)

LIMITER = web.AppKey("api_limiter", RateLimiter)
#: The badges' own limiter (services.api.routes.BADGE_ROUTES), apart from the JSON API's.
BADGE_LIMITER = web.AppKey("api_badge_limiter", RateLimiter)

#: The answer to a CORS preflight (a browser asks before sending e.g. ``If-None-Match`` cross-origin).
PREFLIGHT = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "If-None-Match, Cache-Control",
    "Access-Control-Max-Age": "86400",
}

log = get_logger(__name__)


def route_name(request: web.Request) -> str:
    """The route template (never the raw path, which would explode label cardinality)."""
    info = request.match_info
    resource = info.route.resource if info.route is not None else None
    if resource is None or info.http_exception is not None:
        return "unmatched"
    return resource.canonical


def api_middleware(metrics: HttpMetrics, trusted_proxies: int, window: int) -> Middleware:
    """The middleware, for an app whose :data:`LIMITER` is set (in a cleanup context)."""
    counters: dict[tuple[str, str, int], Any] = {}
    timers: dict[str, Any] = {}

    def observe(request: web.Request, status: int, seconds: float) -> None:
        route = route_name(request)
        key = (route, request.method, status)
        counter = counters.get(key)
        if counter is None:
            if len(counters) >= MAX_CHILDREN:
                counters.clear()
            counter = counters[key] = metrics.requests.labels(route, request.method, str(status))
        counter.inc()
        timer = timers.get(route)
        if timer is None:
            timer = timers[route] = metrics.latency.labels(route)
        timer.observe(seconds)

    async def limited(request: web.Request, handler: Handler) -> web.StreamResponse:
        forwarded = request.headers.get("X-Forwarded-For") if trusted_proxies else None
        route = request.match_info.route.name
        badge = route in BADGE_ROUTES
        limiter = request.app[BADGE_LIMITER] if badge else request.app[LIMITER]
        decision = await limiter.check(client_address(request.remote, forwarded, trusted_proxies))
        if not decision.allowed and badge:
            refusal = {**CORS, **decision.headers(), "Retry-After": str(decision.reset)}
            return badge_views.rate_limited(request, refusal)
        if not decision.allowed:
            return json_error(
                429,
                f"rate limit of {decision.limit} requests per {window} s exceeded; retry in {decision.reset} s",
                **CORS,
                **decision.headers(),
                **{"Retry-After": str(decision.reset)},
            )
        response = await answer_with_json_errors(request, handler)
        headers = response.headers
        headers.update(CORS)
        if decision.limit:
            headers["RateLimit-Limit"] = str(decision.limit)
            headers["RateLimit-Remaining"] = str(decision.remaining)
            headers["RateLimit-Reset"] = str(decision.reset)
        return response

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            if request.method == "OPTIONS" and request.path.startswith("/api/"):
                response: web.StreamResponse = web.Response(
                    status=204, headers=PREFLIGHT
                )  # no data: not limited
            elif request.path in OPS_PATHS:
                response = await answer_with_json_errors(request, handler)
            else:
                response = await limited(request, handler)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            observe(request, status, time.perf_counter() - started)

    return middleware
