"""The Redis circuit breaker's states: closed, open for the retry interval, one half-open probe."""

from __future__ import annotations

from typing import cast

import pytest
from prometheus_client import CollectorRegistry, Gauge
from redis.asyncio import Redis

from shared import redis_gate
from shared.redis_gate import RedisGate

CLIENT = cast(Redis, object())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(redis_gate, "time", type("FakeTime", (), {"monotonic": staticmethod(clock)}))
    return clock


def gauge() -> Gauge:
    return Gauge("redis_up", "test", registry=CollectorRegistry())


def value(g: Gauge) -> float | None:
    (sample,) = [s for metric in g.collect() for s in metric.samples]
    return sample.value


def test_closed_gate_hands_out_the_client(clock: Clock) -> None:
    up = gauge()
    gate = RedisGate(CLIENT, up)
    assert gate.client() is CLIENT and gate.client() is CLIENT
    assert value(up) == 1 and not gate.is_open


def test_a_failure_skips_redis_for_the_retry_interval_then_one_caller_probes(clock: Clock) -> None:
    up = gauge()
    gate = RedisGate(CLIENT, up, retry_seconds=5, probe_seconds=3)
    gate.failed(TimeoutError())
    assert gate.is_open and value(up) == 0
    clock.now += 4.9
    assert gate.client() is None
    clock.now += 0.2
    assert gate.client() is CLIENT  # the probe
    assert gate.client() is None  # everyone else keeps skipping while it is out
    gate.succeeded()
    assert not gate.is_open and value(up) == 1
    assert gate.client() is CLIENT and gate.client() is CLIENT


def test_a_failed_probe_opens_the_gate_again(clock: Clock) -> None:
    gate = RedisGate(CLIENT, retry_seconds=5, probe_seconds=3)
    gate.failed(ConnectionError())
    clock.now += 5
    assert gate.client() is CLIENT
    gate.failed(TimeoutError())
    clock.now += 4
    assert gate.client() is None
    clock.now += 1
    assert gate.client() is CLIENT


def test_a_probe_that_never_reports_is_forgotten(clock: Clock) -> None:
    gate = RedisGate(CLIENT, retry_seconds=5, probe_seconds=3)
    gate.failed(TimeoutError())
    clock.now += 5
    assert gate.client() is CLIENT  # cancelled before it could report
    clock.now += 2.9
    assert gate.client() is None
    clock.now += 0.2
    assert gate.client() is CLIENT


def test_without_a_client_there_is_nothing_to_hand_out(clock: Clock) -> None:
    up = gauge()
    gate = RedisGate(None, up)
    assert gate.client() is None and value(up) == 0
