"""What every front door must do with a path, and small upstreams that say who answered.

``CASES`` is checked against make run's proxy (for real), compose's Caddy (the real binary
serving the generated Caddyfile) and the Helm Ingress (rendered, then matched by the Kubernetes
rules): the service that must answer each path, or None where the front door must answer 404.
"""

from __future__ import annotations

import gzip

from aiohttp import web

#: path -> the service that must answer it through a front door; None: not routed (404).
CASES: dict[str, str | None] = {
    "/": "web",
    "/api": "web",  # the API documentation page
    "/api/": "api",
    "/api/packages/django/recent": "api",
    "/api/openapi.json": "api",
    "/api/packages/django/badge.svg": "api",
    "/apidocs": None,
    "/auth": "auth",
    "/auth/login": "auth",
    "/authors": None,
    "/packages/api": "web",
    "/packages/django": "web",
    "/search/requests": "web",
    "/top": "web",
    "/compare": "web",
    "/about": "web",
    "/faqs": "web",
    "/user": "web",
    "/static/plotly.min.js": "web",
    "/favicon.ico": "web",
    "/suggest": "web",
    "/suggestions": None,
    "/metrics": None,
    "/health": None,
    "/ready": None,
    "/api/metrics": "api",  # under /api: the api answers (a JSON 404), never its /metrics
    "/nowhere": None,
}
OPS_PATHS = ("/metrics", "/health", "/ready")


def echo_upstream(name: str) -> web.Application:
    """An upstream that answers every path with JSON naming itself, the path and a few headers."""

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {"service": name, "path": request.path_qs, "method": request.method, "body": body.decode(),
             "xff": request.headers.get("X-Forwarded-For"), "host": request.headers.get("Host")}
        )  # fmt: skip

    async def redirect(request: web.Request) -> web.Response:
        response = web.Response(status=302, headers={"Location": "/elsewhere"})
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    async def zipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b"x" * 1000), headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get(f"/{name}/redirect", redirect)
    app.router.add_get("/packages/zipped", zipped)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def start_app(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner
