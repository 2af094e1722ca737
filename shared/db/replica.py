"""Where the api's and web's cache-filling reads run: a read replica, or the primary when it lags.

Owns the rule that keeps replica lag out of the caches: a body stored under cache version N is
built on a server that has replayed at least the WAL position L recorded with N (shared.cache:
the aggregator reads ``pg_current_wal_lsn()`` after its commit and stores it with the bump).

Policy for a cache miss under version N when ``READ_DATABASE_URL`` names another server:

1. It runs on a connection of the read pool. Every connection remembers the highest replay
   position its server has shown (a connection to a primary remembers that it is one), so a
   connection that has seen >= L is used with no query at all: the check costs one
   ``pg_last_wal_replay_lsn()`` per connection and version, not one per request. Because the
   memory is per connection, a ``READ_DATABASE_URL`` that balances over several replicas is
   handled too (each connection is checked against the server it is on).
2. A connection still behind L is polled every 20 ms until it replays L, for at most
   ``REPLICA_WAIT_SECONDS`` counted from the first time this process waited for version N; once
   that window has passed, later misses of N check once and do not wait.
3. Still behind: the body is built on the primary (``DATABASE_URL``, a pool of
   ``PRIMARY_POOL_SIZE`` connections opened on demand) and cached; the primary has everything
   up to L.
4. The primary unreachable or busy for 2 s (or L unknown, see below): the body is built on the
   replica, served, and **not cached**. That one answer may be as stale as the replica; no stale
   body is ever stored under the new version.

L is unknown when the bump carried no position (an older aggregator, or its read failed): then
the process asks the primary for ``pg_current_wal_lsn()`` once per version, which is at least the
position of the commit, since the version was bumped after it.

With ``READ_DATABASE_URL`` empty or equal to ``DATABASE_URL`` there is one pool and no check.
Reads that are not cached at all (Redis down, caching off) go to the read pool unchecked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.cache import CacheVersion
from shared.db.pool import ReaderConnection
from shared.logging import get_logger
from shared.metrics import metric_name

log = get_logger(__name__)

T = TypeVar("T")

#: Whether the server is a standby, and how far it has replayed (NULL on a primary).
REPLAY_POSITION: Final = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()"
#: The primary's WAL write position.
PRIMARY_POSITION: Final = "SELECT pg_current_wal_lsn()"

POLL_SECONDS: Final = 0.02
#: How long a read waits for a primary connection (a free one, or a new one) before it gives up
#: and serves from the replica uncached.
PRIMARY_ACQUIRE_TIMEOUT_S: Final = 2.0
#: After the primary failed, how long it is left alone (reads serve uncached from the replica).
PRIMARY_RETRY_S: Final = 5.0
#: A position past any real one: what a connection to a primary has "replayed".
EVERYTHING: Final = 1 << 64

#: Failures of the primary that make a read fall back to the replica (uncached), rather than fail.
PRIMARY_ERRORS: Final = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


class _PrimaryUnavailable(Exception):
    """The primary could not serve a read (down, or no connection free in time)."""


class ReplicaConnection(ReaderConnection):
    """A connection that remembers the highest replay position its server has shown."""

    __slots__ = ("_replayed",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replayed = -1

    def replayed_position(self) -> int:
        """The highest position seen (-1 before the first check; :data:`EVERYTHING` on a primary)."""
        return self._replayed

    def note_replayed(self, position: int) -> None:
        # A standby's replay position only moves forward; a connection never changes servers.
        self._replayed = max(self._replayed, position)


class ReplicaMetrics:
    """``pypistats_<service>_replica_*``: where cache-filling reads ran, waits, observed lag."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        reads = Counter(
            metric_name(service, "replica_reads"),
            "Cache-filling reads with a separate READ_DATABASE_URL, by where they ran: replica "
            "(it had replayed the cache version's WAL position), primary (it had not, in time), "
            "uncached (on the replica, not cached: the primary failed or the position was unknown).",
            ["target"],
            registry=registry,
        )
        self.replica, self.primary, self.uncached = (
            reads.labels(t) for t in ("replica", "primary", "uncached")
        )
        waits = Counter(
            metric_name(service, "replica_waits"),
            "Reads that found their replica connection behind the cache version's WAL position, by "
            "outcome: caught_up (it replayed within REPLICA_WAIT_SECONDS) or behind.",
            ["outcome"],
            registry=registry,
        )
        self.caught_up, self.behind = waits.labels("caught_up"), waits.labels("behind")
        self.wait_seconds = Histogram(
            metric_name(service, "replica_wait_seconds"),
            "Time a read waited for its replica connection to replay the cache version's WAL position.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=registry,
        )
        self.lag_bytes = Gauge(
            metric_name(service, "replica_lag_bytes"),
            "WAL bytes the last checked replica connection was behind the cache version's position "
            "(0 when it had replayed it).",
            registry=registry,
        )


class ReadRouter:
    """Runs a read on a server fit for a cache version (see the module doc for the policy)."""

    def __init__(
        self,
        read_pool: asyncpg.Pool,
        primary_pool: asyncpg.Pool | None,
        wait_seconds: float,
        metrics: ReplicaMetrics | None = None,
    ) -> None:
        self.read, self.primary = read_pool, primary_pool
        self.wait_seconds = wait_seconds
        self.metrics = metrics
        #: (version, end of its wait window): the newest version this process has waited for.
        self._window: tuple[int, float] = (-1, 0.0)
        #: (version, position or None, when to ask again): the primary's answer for a version
        #: that was bumped without a position.
        self._asked: tuple[int, int | None, float] = (-1, None, 0.0)
        self._ask_lock = asyncio.Lock()
        self._primary_down_until = 0.0

    @property
    def separate(self) -> bool:
        """Whether reads go to a server other than the primary (and so are checked)."""
        return self.primary is not None

    async def run(self, version: CacheVersion | None, build: Callable[[Any], Awaitable[T]]) -> tuple[T, bool]:
        """``build(conn)`` on a connection fit for ``version``; returns its result and whether that
        result may be cached under ``version``. ``version`` None: nothing will be cached."""
        if self.primary is None or version is None:
            async with self.read.acquire() as conn:
                return await build(conn), True
        metrics = self.metrics
        target = await self._position(version)
        if target is not None:
            async with self.read.acquire() as conn:
                if conn.replayed_position() >= target or await self._catch_up(conn, version.number, target):
                    if metrics is not None:
                        metrics.replica.inc()
                    return await build(conn), True
            try:
                result = await self._on_primary(build)
            except _PrimaryUnavailable:
                pass
            else:
                if metrics is not None:
                    metrics.primary.inc()
                return result, True
        async with self.read.acquire() as conn:
            if metrics is not None:
                metrics.uncached.inc()
            return await build(conn), False

    async def _catch_up(self, conn: Any, number: int, target: int) -> bool:
        """Whether ``conn``'s server has replayed ``target``, waiting within the version's window."""
        started = time.monotonic()
        waited = False
        while True:
            in_recovery, replayed = await conn.fetchrow(REPLAY_POSITION)
            if not in_recovery:  # READ_DATABASE_URL reaches a primary on this connection
                conn.note_replayed(EVERYTHING)
                return True
            replayed = replayed if replayed is not None else 0
            conn.note_replayed(replayed)
            if replayed >= target:
                self._observe(started, waited, caught_up=True, lag=0)
                return True
            now = time.monotonic()
            deadline = self._deadline(number, now)
            if now >= deadline:
                self._observe(started, waited, caught_up=False, lag=target - replayed)
                log.info(
                    "replica behind the cache version",
                    version=number,
                    lag_bytes=target - replayed,
                    waited_s=round(now - started, 3),
                )
                return False
            waited = True
            await asyncio.sleep(min(POLL_SECONDS, deadline - now))

    def _deadline(self, number: int, now: float) -> float:
        """End of the wait window of ``number``: opened by its first wait, shared by later ones."""
        newest, until = self._window
        if number > newest:
            self._window = (number, now + self.wait_seconds)
            return now + self.wait_seconds
        return until if number == newest else now  # an older version: check once, never wait

    def _observe(self, started: float, waited: bool, *, caught_up: bool, lag: int) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        metrics.lag_bytes.set(lag)
        if waited or not caught_up:
            (metrics.caught_up if caught_up else metrics.behind).inc()
            metrics.wait_seconds.observe(time.monotonic() - started)

    async def _position(self, version: CacheVersion) -> int | None:
        """The WAL position of ``version``: recorded with it, or else the primary's, asked once."""
        if version.lsn is not None:
            return version.lsn
        async with self._ask_lock:
            number, position, retry_at = self._asked
            if number == version.number and (position is not None or time.monotonic() < retry_at):
                return position
            position = None
            if time.monotonic() >= self._primary_down_until:
                try:
                    assert self.primary is not None
                    async with self.primary.acquire(timeout=PRIMARY_ACQUIRE_TIMEOUT_S) as conn:
                        position = await conn.fetchval(PRIMARY_POSITION)
                except PRIMARY_ERRORS as exc:
                    self._primary_failed(exc)
            self._asked = (version.number, position, time.monotonic() + PRIMARY_RETRY_S)
            return position

    async def _on_primary(self, build: Callable[[Any], Awaitable[T]]) -> T:
        """``build(conn)`` on a primary connection; :class:`_PrimaryUnavailable` when that failed."""
        assert self.primary is not None
        if time.monotonic() < self._primary_down_until:
            raise _PrimaryUnavailable
        try:
            conn = await self.primary.acquire(timeout=PRIMARY_ACQUIRE_TIMEOUT_S)
        except PRIMARY_ERRORS as exc:
            self._primary_failed(exc)
            raise _PrimaryUnavailable from exc
        try:
            return await build(conn)
        except PRIMARY_ERRORS as exc:  # the read is repeated on the replica: builds only read
            self._primary_failed(exc)
            raise _PrimaryUnavailable from exc
        finally:
            await self.primary.release(conn)

    def _primary_failed(self, exc: BaseException) -> None:
        if time.monotonic() >= self._primary_down_until:
            log.warning(
                "primary unavailable for reads: serving uncached from the replica", error=type(exc).__name__
            )
        self._primary_down_until = time.monotonic() + PRIMARY_RETRY_S
