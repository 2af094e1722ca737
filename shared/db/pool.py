"""The asyncpg pool factory every service uses.

Owns connection set-up: a bounded pool, a statement timeout and the application name, so that
``pg_stat_activity`` tells which service holds a connection.
"""

from __future__ import annotations

import functools
from typing import Any

import asyncpg

from shared.db.gate import DatabaseGate, GatedPool


async def create_pool(
    dsn: str,
    *,
    application_name: str = "pypistats",
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_ms: int = 60_000,
    connection_class: type[asyncpg.Connection] = asyncpg.Connection,
    connect_timeout: float = 60.0,
    gate: DatabaseGate | None = None,
) -> asyncpg.Pool:
    """Open a pool; raises when the database does not answer (with ``min_size`` > 0). With a
    ``gate``, a :class:`~shared.db.gate.GatedPool`: acquires fail fast while the database is away."""
    factory: Any = asyncpg.create_pool
    if gate is not None:  # asyncpg.create_pool's own defaults, on the gated class
        factory = functools.partial(
            GatedPool, gate=gate, max_queries=50000, max_inactive_connection_lifetime=300.0,
            loop=None, record_class=asyncpg.Record,
        )  # fmt: skip
    pool = await factory(
        dsn,
        min_size=min_size,
        max_size=max_size,
        connection_class=connection_class,
        timeout=connect_timeout,
        server_settings={
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
        },
    )
    assert pool is not None
    return pool
