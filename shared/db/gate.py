"""A circuit breaker in front of PostgreSQL, for the services that read it per request (api, web, auth).

Owns :class:`GatedPool`, :class:`DatabaseGate` and :class:`DatabaseUnavailable`. Without it, a
stopped PostgreSQL costs every request its own connection attempts (asyncpg reconnects a pool's
dead connections on acquire, and a server shutting down or starting up answers each one
"cannot connect now"), and under load the requests queue behind each other for seconds before
each ends in a 500. The gate remembers the failure instead:

- *closed*: connections are acquired as usual; every acquire (or query block) that fails with a
  connection-level error (:func:`is_unavailable`: refused, reset, shut down, cannot connect now,
  timed out acquiring) opens the gate;
- *open*: for ``retry_seconds`` every acquire raises :class:`DatabaseUnavailable` at once, which
  the api answers as a JSON 503 and web as a 503 page, both with ``Retry-After``; answers that need
  no database (cached bodies) are served as before;
- *half-open*: then ONE acquire probes the server while the others keep failing fast; its success
  closes the gate (the service recovers on its own within about ``retry_seconds`` of PostgreSQL's
  return), its failure opens it again. ``/ready`` probes too, on its own short timeout.

The state is exported as ``pypistats_<service>_database_up`` and logged when it changes.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

import asyncpg
from prometheus_client import Gauge

from shared.logging import get_logger

log = get_logger(__name__)

RETRY_SECONDS = 1.0
#: A half-open probe that has not reported after this long is forgotten.
PROBE_SECONDS = 5.0
#: How long an acquire may wait for a connection (a free one, or a new one) before it gives up.
ACQUIRE_TIMEOUT_S = 5.0
#: What the 503 answers tell a client (seconds): about one retry period plus a probe.
RETRY_AFTER_S = 2
PROBE_TIMEOUT_S = 1.0

#: Errors that say the server is away, not that a query is wrong.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # acquiring or connecting took too long
    asyncpg.PostgresConnectionError,  # class 08, ConnectionDoesNotExistError among them
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: pg_ctl stop -m fast / smart
    asyncpg.CrashShutdownError,  # 57P02: another backend crashed
)


class DatabaseUnavailable(Exception):
    """PostgreSQL is known to be away: answer 503 with Retry-After instead of trying."""

    retry_after_s = RETRY_AFTER_S


def is_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says PostgreSQL is away (see :data:`UNAVAILABLE_ERRORS`)."""
    if exc is None:
        return False
    if isinstance(exc, (DatabaseUnavailable, *UNAVAILABLE_ERRORS)):
        return True
    # asyncpg's "connection is closed" / "connection was closed in the middle of operation" (not
    # "pool is closed": that is the service shutting down, not the database going away)
    text = str(exc)
    return isinstance(exc, asyncpg.InterfaceError) and "connection" in text and "closed" in text


class DatabaseGate:
    """Fails acquires fast for ``retry_seconds`` after a failure, then lets one probe through."""

    def __init__(
        self,
        up: Gauge | None = None,
        retry_seconds: float = RETRY_SECONDS,
        probe_seconds: float = PROBE_SECONDS,
    ) -> None:
        self.retry_seconds, self.probe_seconds = retry_seconds, probe_seconds
        self._open_until = 0.0  # 0: closed
        self._probe_until = 0.0
        self._up = up
        self._set_up(True)

    @property
    def is_open(self) -> bool:
        return self._open_until != 0.0

    def admit(self) -> None:
        """Return when a connection may be tried; :class:`DatabaseUnavailable` otherwise."""
        if not self._open_until:
            return
        now = time.monotonic()
        if now < self._open_until or now < self._probe_until:
            raise DatabaseUnavailable("the database is unavailable")
        self._probe_until = now + self.probe_seconds  # this caller probes; the others fail fast

    def outcome(self, exc: BaseException | None) -> None:
        """Record how a use of the database ended: a connection-level error opens the gate, an
        answer (a result, or an error about the query itself) closes it; a cancel says nothing."""
        if isinstance(exc, asyncio.CancelledError | DatabaseUnavailable):
            return
        if is_unavailable(exc):
            assert exc is not None
            self.failed(exc)
        else:
            self.succeeded()

    def failed(self, exc: BaseException) -> None:
        if not self._open_until:
            log.warning(
                "database unavailable, answering 503", error=type(exc).__name__, retry_s=self.retry_seconds
            )
        self._open_until = time.monotonic() + self.retry_seconds
        self._probe_until = 0.0
        self._set_up(False)

    def succeeded(self) -> None:
        if self._open_until:
            log.info("database answers again")
            self._open_until = self._probe_until = 0.0
            self._set_up(True)

    def _set_up(self, up: bool) -> None:
        if self._up is not None:
            self._up.set(1 if up else 0)


class _GatedAcquire:
    """``pool.acquire()`` through the gate: as a context manager, or awaited."""

    __slots__ = ("_ctx", "_pool", "_timeout")

    def __init__(self, pool: GatedPool, timeout: float | None) -> None:
        self._pool, self._timeout = pool, timeout
        self._ctx: Any = None

    async def __aenter__(self) -> Any:
        gate = self._pool.gate
        gate.admit()
        self._ctx = asyncpg.Pool.acquire(self._pool, timeout=self._timeout)
        try:
            return await self._ctx.__aenter__()
        except Exception as exc:
            gate.outcome(exc)
            if is_unavailable(exc):
                raise DatabaseUnavailable("the database is unavailable") from exc
            raise

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._ctx.__aexit__(et, exc, tb)
        finally:
            self._pool.gate.outcome(exc)
        if is_unavailable(exc) and not isinstance(exc, DatabaseUnavailable):
            raise DatabaseUnavailable("the database went away") from exc

    def __await__(self) -> Any:
        return self._acquire().__await__()

    async def _acquire(self) -> Any:
        gate = self._pool.gate
        gate.admit()
        try:
            conn = await asyncpg.Pool.acquire(self._pool, timeout=self._timeout)
        except Exception as exc:
            gate.outcome(exc)
            if is_unavailable(exc):
                raise DatabaseUnavailable("the database is unavailable") from exc
            raise
        return conn


class GatedPool(asyncpg.Pool):  # type: ignore[misc]
    """An asyncpg pool whose every acquire (``pool.fetch*`` too) goes through a :class:`DatabaseGate`."""

    def __init__(
        self, *args: Any, gate: DatabaseGate, acquire_timeout: float = ACQUIRE_TIMEOUT_S, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.gate = gate
        self.acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> _GatedAcquire:
        return _GatedAcquire(self, timeout if timeout is not None else self.acquire_timeout)

    async def probe(self, timeout: float = PROBE_TIMEOUT_S) -> None:
        """``SELECT 1`` past the gate (``/ready``), within ``timeout``; the outcome updates the gate."""
        try:
            async with asyncio.timeout(timeout):
                async with asyncpg.Pool.acquire(self) as conn:
                    await conn.fetchval("SELECT 1")
        except Exception as exc:
            self.gate.outcome(exc)
            raise
        self.gate.succeeded()
