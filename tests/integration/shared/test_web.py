from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from shared.metrics import HttpMetrics
from shared.web import READY_CHECKS, init_ops, json_error_middleware, pg_pool_ctx, redis_ctx


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret detail")


async def test_ops_routes_metrics_and_json_errors(database_url: str, redis_url: str) -> None:
    registry = CollectorRegistry()
    app = web.Application(middlewares=[HttpMetrics("demo", registry).middleware(), json_error_middleware])
    init_ops(app, registry)
    app.cleanup_ctx.append(pg_pool_ctx(database_url, "test"))
    app.cleanup_ctx.append(redis_ctx(redis_url))
    app.router.add_get("/boom", _boom)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/health")).status == 200
        ready = await client.get("/ready")
        assert ready.status == 200, await ready.text()
        assert (await ready.json())["checks"] == {"database": "ok", "redis": "ok"}
        boom = await client.get("/boom")
        assert boom.status == 500
        body = await boom.json()
        assert body == {"error": {"status": 500, "message": "internal server error"}}
        missing = await client.get("/nope")
        assert (await missing.json())["error"]["status"] == 404
        text = await (await client.get("/metrics")).text()
        assert 'pypistats_demo_http_requests_total{method="GET",route="/boom",status="500"} 1.0' in text
        assert 'route="unmatched"' in text


async def test_ready_fails_without_leaking_urls() -> None:
    registry = CollectorRegistry()
    app = web.Application()
    init_ops(app, registry)

    async def down() -> None:
        raise ConnectionRefusedError("postgresql://user:hunter2@db:5432")

    app[READY_CHECKS]["database"] = down
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/ready")
        assert response.status == 503
        text = await response.text()
        assert "hunter2" not in text and "ConnectionRefusedError" in text
