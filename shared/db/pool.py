"""The asyncpg pool factory every service uses.

Owns connection set-up: a bounded pool, a statement timeout and the application name, so that
``pg_stat_activity`` tells which service holds a connection; and the connection class of the
reading services' pools (:class:`ReaderConnection`).
"""

from __future__ import annotations

import functools
from typing import Any

import asyncpg

from shared.db.gate import DatabaseGate, GatedPool


class ReaderConnection(asyncpg.Connection):  # type: ignore[misc]
    """A connection of a reading service's pool (api, web): returned to the pool without
    asyncpg's reset query (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``), one
    more round trip per request that undoes nothing such a service does: it takes no advisory
    lock, sets nothing for the session, listens to nothing and opens cursors only inside
    transactions. An open transaction is still rolled back on release (asyncpg does that apart
    from the query), so a request cancelled mid-transaction leaves nothing behind."""

    def get_reset_query(self) -> str:
        return ""


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
