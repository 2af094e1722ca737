"""Wiring of the auth service: the app factory and the command line.

Owns ``create_app(settings)`` (metrics and error middlewares, ops routes, PostgreSQL and Redis
opened in cleanup contexts, the session and state stores, the Redis gate that refuses requests at
once while Redis is down (services.auth.outage), the GitHub provider: the real GitHub
when a client id is set, the fake otherwise) and ``main()`` with two subcommands: ``serve`` and
``fake-github`` (the fake GitHub on its own port, for the local stack).
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Sequence

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.auth.config import AuthSettings
from services.auth.fake_github import FakeGitHub, FakeUser, create_fake_github
from services.auth.github import AuthlibGitHub, OAuthProvider
from services.auth.outage import REDIS_GATE, redis_outage
from services.auth.routes import setup_routes
from services.auth.sessions import StateStore
from services.auth.views import LOGINS, PROVIDER, SESSIONS, SETTINGS, STATES
from shared import workers
from shared.config import load_settings
from shared.logging import configure_logging, get_logger
from shared.metrics import HttpMetrics, metric_name
from shared.redis_gate import RedisGate
from shared.sessions import SessionStore
from shared.web import REDIS, init_ops, json_error_middleware, pg_pool_ctx, redis_ctx

MAX_BODY_BYTES = 64 * 1024
REDIS_UP = web.AppKey("auth_redis_up", Gauge)

log = get_logger(__name__)


def provider_for(settings: AuthSettings) -> OAuthProvider:
    client_id, secret, authorize, token, api = settings.oauth_endpoints()
    return AuthlibGitHub(client_id, secret, authorize, token, api, timeout=settings.github_timeout_seconds)


def create_app(settings: AuthSettings, provider: OAuthProvider | None = None) -> web.Application:
    registry = CollectorRegistry()
    metrics_middleware = HttpMetrics("auth", registry).middleware()
    app = web.Application(
        middlewares=[metrics_middleware, json_error_middleware, redis_outage],
        client_max_size=MAX_BODY_BYTES,
    )
    init_ops(app, registry)
    app[SETTINGS] = settings
    app[PROVIDER] = provider or provider_for(settings)
    app[REDIS_UP] = Gauge(
        metric_name("auth", "redis_up"),
        "1 while Redis answers, 0 while auth refuses requests at once (503) without asking it.",
        registry=registry,
    )
    app[LOGINS] = Counter(
        metric_name("auth", "logins"),
        "Login callbacks, by result (success, bad_state, denied, bad_code, refused, github_unavailable).",
        ["result"],
        registry=registry,
    )
    app.cleanup_ctx.append(pg_pool_ctx(settings.database_url, "pypistats-auth"))
    app.cleanup_ctx.append(redis_ctx(settings.redis_url, required=True))
    app.cleanup_ctx.append(_stores_ctx)
    app.cleanup_ctx.append(_provider_ctx)
    setup_routes(app)
    return app


async def _stores_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, redis = app[SETTINGS], app[REDIS]
    secret = settings.session_secret.get_secret_value()
    app[REDIS_GATE] = RedisGate(redis, app[REDIS_UP])
    app[SESSIONS] = SessionStore(redis, settings.redis_prefix, secret, settings.session_ttl_seconds)
    app[STATES] = StateStore(redis, settings.redis_prefix, settings.oauth_state_ttl_seconds)
    yield


async def _provider_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    provider = app[PROVIDER]
    if isinstance(provider, AuthlibGitHub):
        await provider.aclose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.auth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve /auth (settings from the environment)")
    fake = commands.add_parser("fake-github", help="run the fake GitHub OAuth server")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8083)
    fake.add_argument("--login", default="octocat", help="the user the fake logs in by default")
    fake.add_argument("--user-id", type=int, default=583231, help="the default user's GitHub id")
    fake.add_argument("--name", default="The Octocat")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = load_settings(AuthSettings)
    configure_logging(settings.log_level, settings.json_logs)
    if args.command == "fake-github":
        fake = FakeGitHub(user=FakeUser(args.user_id, args.login, args.name))
        log.info("fake github listening", host=args.host, port=args.port, login=args.login)
        web.run_app(create_fake_github(fake), host=args.host, port=args.port, print=None, access_log=None)
        return
    if settings.uses_fake_github:
        log.warning(
            "no GitHub app configured: logging in against the fake GitHub", url=settings.fake_github_url
        )
    log.info("auth listening", host=settings.ops_host, port=settings.port)
    code = workers.serve(
        lambda: create_app(settings),
        service="auth",
        host=settings.ops_host,
        port=settings.port,
        workers=settings.workers,
    )
    if code:
        raise SystemExit(code)
