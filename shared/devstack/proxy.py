"""The local reverse proxy of ``make run``: one address, routed like the Kubernetes Ingress.

Forwards every request unchanged (method, path, query, body, cookies; no redirects followed, no
decompression) to the service :func:`shared.frontdoor.route_for` names, with hop-by-hop
headers dropped and ``X-Forwarded-*`` added; a path no route matches (``/metrics`` among them)
is a 404, as at compose's Caddy and the Ingress, and a stopped service gives a JSON 502.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import aiohttp
from aiohttp import web

from shared.devstack.plan import HOP_BY_HOP, forward_headers
from shared.frontdoor import route_for
from shared.logging import get_logger

log = get_logger(__name__)

UPSTREAMS = web.AppKey("upstreams", dict[str, str])
CLIENT = web.AppKey("client", aiohttp.ClientSession)


async def proxy(request: web.Request) -> web.StreamResponse:
    """Forward the request unchanged (no redirects followed, no decompression) to its service."""
    service = route_for(request.path)
    if service is None:
        return web.Response(status=404, text="404: Not Found")
    base = request.app[UPSTREAMS][service]
    headers = forward_headers(request.headers, request.remote or "", request.host, request.scheme)
    try:
        async with request.app[CLIENT].request(
            request.method, base + request.rel_url.raw_path_qs, headers=headers,
            data=request.content if request.can_read_body else None, allow_redirects=False,
        ) as upstream:  # fmt: skip
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers.add(key, value)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
    except aiohttp.ClientError as exc:
        log.warning("upstream unavailable", path=request.path, error=type(exc).__name__)
        return web.json_response({"error": {"status": 502, "message": "service unavailable"}}, status=502)


def create_proxy_app(upstreams: Mapping[str, str]) -> web.Application:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[UPSTREAMS] = dict(upstreams)

    async def client_ctx(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
        app[CLIENT] = aiohttp.ClientSession(
            timeout=timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        )
        yield
        await app[CLIENT].close()

    app.cleanup_ctx.append(client_ctx)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app
