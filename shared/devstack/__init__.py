"""The one-command local stack behind ``make run``: ``python -m shared.devstack``.

Owns starting everything on one machine: embedded PostgreSQL/Redis/NATS under ``.run/`` (or the
servers named by ``DATABASE_URL``/``REDIS_URL``/``NATS_URL``), the migration, a first fill of
synthetic days through the real pipeline (ingest -> NATS -> aggregator: the newest 30 before the
URL, two years of older history in the background, newest first), the services as
subprocesses with their output prefixed, and a reverse proxy routed by shared.frontdoor, the table
compose's Caddy and the Kubernetes Ingress are generated from. Ctrl-C stops everything it started. The pure parts (routing, command lines,
which days to fill) are functions without I/O; the rest is a thin asyncio shell around them.
It never imports a service: each one is started as ``python -m services.<name>``.
"""

from shared.devstack.plan import (
    STATE_FILE,
    Command,
    DevstackSettings,
    FillPlan,
    backfill_command,
    common_env,
    fill_plan,
    forward_headers,
    service_commands,
)  # fmt: skip
from shared.devstack.proxy import create_proxy_app
from shared.devstack.supervisor import Supervisor

__all__ = [
    "STATE_FILE", "Command", "DevstackSettings", "FillPlan", "Supervisor", "backfill_command",
    "common_env", "create_proxy_app", "fill_plan", "forward_headers", "service_commands",
]  # fmt: skip
