"""The asyncpg pool factory every service uses.

Owns connection set-up: a bounded pool, a statement timeout and the application name, so that
``pg_stat_activity`` tells which service holds a connection.
"""

from __future__ import annotations

import asyncpg


async def create_pool(
    dsn: str,
    *,
    application_name: str = "pypistats",
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_ms: int = 60_000,
    connection_class: type[asyncpg.Connection] = asyncpg.Connection,
    connect_timeout: float = 60.0,
) -> asyncpg.Pool:
    """Open a pool; raises when the database does not answer (with ``min_size`` > 0)."""
    pool = await asyncpg.create_pool(
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
