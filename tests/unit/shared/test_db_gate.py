"""shared.db.gate: which errors open the gate, failing fast while open, one probe, recovery."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from prometheus_client import CollectorRegistry, Gauge

from shared.db.gate import DatabaseGate, DatabaseUnavailable, is_unavailable


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("cannot perform operation: connection is closed"),
    ],
)
def test_connection_level_errors_say_the_database_is_away(exc: BaseException) -> None:
    assert is_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.UndefinedTableError("no such table"),
        asyncpg.InterfaceError("pool is closed"),
        ValueError(),
        None,
    ],
)
def test_other_errors_do_not(exc: BaseException | None) -> None:
    assert not is_unavailable(exc)


def test_a_failure_opens_the_gate_one_probe_then_closes_it() -> None:
    up = Gauge("t_database_up", "t", registry=CollectorRegistry())
    gate = DatabaseGate(up, retry_seconds=0.05)
    gate.admit()
    gate.outcome(ConnectionRefusedError())
    assert gate.is_open and up._value.get() == 0
    with pytest.raises(DatabaseUnavailable):
        gate.admit()
    time.sleep(0.06)  # the retry period passes
    gate.admit()  # this caller probes
    with pytest.raises(DatabaseUnavailable):
        gate.admit()  # the others still fail fast
    gate.outcome(asyncpg.UndefinedTableError("the query was wrong, the server answered"))
    assert not gate.is_open and up._value.get() == 1
    gate.admit()


def test_a_cancel_says_nothing() -> None:
    gate = DatabaseGate(retry_seconds=5)
    gate.outcome(ConnectionResetError())
    gate.outcome(asyncio.CancelledError())
    assert gate.is_open
