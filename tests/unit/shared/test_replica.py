"""The read router's policy (shared.db.replica) and the LSN record (shared.cache), with fake pools."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shared.cache import CacheVersion, format_lsn, parse_lsn, parse_version
from shared.db.replica import EVERYTHING, PRIMARY_POSITION, REPLAY_POSITION, ReadRouter, ReplicaMetrics


class FakeConn:
    """A connection whose server shows the replay positions of ``replays``, one per check."""

    def __init__(self, name: str, replays: list[int | None] | None = None, primary_at: int = 0) -> None:
        self.name = name
        self.replays: Iterator[int | None] = iter(replays or [])
        self.last: int | None = None
        self.primary_at = primary_at
        self.checks = 0
        self._replayed = -1

    def replayed_position(self) -> int:
        return self._replayed

    def note_replayed(self, position: int) -> None:
        self._replayed = max(self._replayed, position)

    async def fetchrow(self, sql: str) -> tuple[bool, int | None]:
        assert sql == REPLAY_POSITION
        self.checks += 1
        self.last = next(self.replays, self.last)
        return (self.last is not None, self.last)

    async def fetchval(self, sql: str) -> int:
        assert sql == PRIMARY_POSITION
        self.checks += 1
        return self.primary_at


class Acquire:
    def __init__(self, pool: FakePool) -> None:
        self.pool = pool

    def __await__(self) -> Any:
        return self.pool.take().__await__()

    async def __aenter__(self) -> FakeConn:
        return await self.pool.take()

    async def __aexit__(self, *exc: object) -> None:
        return None


class FakePool:
    def __init__(self, conn: FakeConn | None, error: BaseException | None = None) -> None:
        self.conn, self.error = conn, error
        self.acquired = 0

    async def take(self) -> FakeConn:
        self.acquired += 1
        if self.error is not None:
            raise self.error
        assert self.conn is not None
        return self.conn

    def acquire(self, timeout: float | None = None) -> Acquire:
        return Acquire(self)

    async def release(self, conn: FakeConn) -> None:
        return None


async def name_of(conn: FakeConn) -> str:
    return conn.name


def metrics() -> ReplicaMetrics:
    return ReplicaMetrics("test", CollectorRegistry())


def test_lsn_spelling_round_trips() -> None:
    assert format_lsn(0x16B374D848) == "16/B374D848"
    assert parse_lsn("16/B374D848") == 0x16B374D848
    assert parse_lsn(format_lsn(50331648)) == 50331648
    with pytest.raises(ValueError):
        parse_lsn("16B374D848")


def test_an_lsn_record_counts_only_for_its_own_version() -> None:
    assert parse_version(b"7", b"7 0/3000000") == CacheVersion(7, 0x3000000)
    assert parse_version(b"8", b"7 0/3000000") == CacheVersion(8, None)  # bumped without a position
    assert parse_version(None, None) == CacheVersion(0, None)
    assert parse_version(b"3", b"3 garbage") == CacheVersion(3, None)


async def test_one_pool_means_no_check_at_all() -> None:
    conn = FakeConn("replica", [0])
    router = ReadRouter(FakePool(conn), None, 0.5)  # type: ignore[arg-type]
    assert not router.separate
    assert await router.run(CacheVersion(1, 100), name_of) == ("replica", True)
    assert conn.checks == 0


async def test_a_caught_up_connection_is_checked_once_per_version() -> None:
    conn = FakeConn("replica", [150, 151])
    router = ReadRouter(FakePool(conn), FakePool(FakeConn("primary")), 0.5, metrics())  # type: ignore[arg-type]
    for _ in range(3):
        assert await router.run(CacheVersion(1, 100), name_of) == ("replica", True)
    assert conn.checks == 1
    # A later version at a position the connection has already shown costs nothing either ...
    assert await router.run(CacheVersion(2, 150), name_of) == ("replica", True)
    assert conn.checks == 1
    # ... and one past it is checked again.
    assert await router.run(CacheVersion(3, 151), name_of) == ("replica", True)
    assert conn.checks == 2


async def test_a_replica_that_catches_up_within_the_wait_serves_and_is_cached() -> None:
    conn = FakeConn("replica", [10, 20, 30, 120])
    m = metrics()
    router = ReadRouter(FakePool(conn), FakePool(FakeConn("primary")), 5.0, m)  # type: ignore[arg-type]
    assert await router.run(CacheVersion(1, 100), name_of) == ("replica", True)
    assert conn.checks == 4
    assert m.caught_up._value.get() == 1 and m.lag_bytes._value.get() == 0


async def test_a_replica_behind_for_the_whole_wait_sends_the_read_to_the_primary() -> None:
    replica, primary = FakeConn("replica", [10]), FakeConn("primary")
    m = metrics()
    router = ReadRouter(FakePool(replica), FakePool(primary), 0.05, m)  # type: ignore[arg-type]
    assert await router.run(CacheVersion(1, 100), name_of) == ("primary", True)
    assert m.behind._value.get() == 1 and m.primary._value.get() == 1 and m.lag_bytes._value.get() == 90
    # The window of version 1 is over: the next miss checks once and does not wait.
    checks = replica.checks
    assert await router.run(CacheVersion(1, 100), name_of) == ("primary", True)
    assert replica.checks == checks + 1


async def test_without_a_primary_the_replica_answers_uncached() -> None:
    replica = FakeConn("replica", [10])
    m = metrics()
    router = ReadRouter(FakePool(replica), FakePool(None, ConnectionRefusedError()), 0.0, m)  # type: ignore[arg-type]
    assert await router.run(CacheVersion(1, 100), name_of) == ("replica", False)
    assert m.uncached._value.get() == 1


async def test_a_read_url_on_a_primary_is_never_checked_again() -> None:
    conn = FakeConn("replica", [None])  # not in recovery
    router = ReadRouter(FakePool(conn), FakePool(FakeConn("primary")), 0.5)  # type: ignore[arg-type]
    assert await router.run(CacheVersion(1, 100), name_of) == ("replica", True)
    assert conn.replayed_position() == EVERYTHING
    assert await router.run(CacheVersion(9, 10**12), name_of) == ("replica", True)
    assert conn.checks == 1


async def test_a_version_without_a_position_asks_the_primary_once() -> None:
    replica, primary = FakeConn("replica", [500]), FakeConn("primary", primary_at=400)
    router = ReadRouter(FakePool(replica), FakePool(primary), 0.5)  # type: ignore[arg-type]
    for _ in range(3):
        assert await router.run(CacheVersion(4, None), name_of) == ("replica", True)
    assert primary.checks == 1


async def test_an_unknown_position_with_the_primary_down_serves_uncached() -> None:
    replica = FakeConn("replica", [500])
    router = ReadRouter(FakePool(replica), FakePool(None, OSError()), 0.5)  # type: ignore[arg-type]
    assert await router.run(CacheVersion(4, None), name_of) == ("replica", False)


async def test_nothing_to_cache_reads_the_replica_unchecked() -> None:
    replica = FakeConn("replica", [1])
    router = ReadRouter(FakePool(replica), FakePool(FakeConn("primary")), 0.5)  # type: ignore[arg-type]
    assert (await router.run(None, name_of))[0] == "replica"
    assert replica.checks == 0
