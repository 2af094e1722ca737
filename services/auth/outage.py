"""Fast refusals while Redis is down: the auth service's use of the shared Redis gate.

Owns one middleware. Every auth endpoint needs Redis (the OAuth state of a login, the session of
everything else), so auth cannot answer without it; what it can do is answer *at once*. A Redis
error or timeout in a handler becomes a JSON 503 with ``Retry-After`` and opens the
:class:`~shared.redis_gate.RedisGate`; while it is open, requests get that 503 without touching
Redis, instead of each paying the client's 2 s timeout. After the gate's retry interval one request
probes Redis again. Ops routes are never refused: ``/ready`` reports Redis itself.
"""

from __future__ import annotations

import math

from aiohttp import web
from redis.exceptions import RedisError

from shared.metrics import Handler
from shared.redis_gate import RedisGate
from shared.web import OPS_PATHS, json_error

REDIS_GATE = web.AppKey("auth_redis_gate", RedisGate)
MESSAGE = "sign-in is unavailable right now (the session store does not answer): try again shortly"


def _unavailable(gate: RedisGate) -> web.Response:
    retry = str(max(1, math.ceil(gate.retry_seconds)))
    return json_error(503, MESSAGE, **{"Retry-After": retry, "Cache-Control": "no-store"})


@web.middleware
async def redis_outage(request: web.Request, handler: Handler) -> web.StreamResponse:
    gate = request.app.get(REDIS_GATE)
    if gate is None or request.path in OPS_PATHS:
        return await handler(request)
    if gate.client() is None:
        return _unavailable(gate)
    try:
        response = await handler(request)
    except RedisError as exc:  # redis-py's own (timeouts included): a database error is not Redis's
        gate.failed(exc)
        return _unavailable(gate)
    gate.succeeded()
    return response
