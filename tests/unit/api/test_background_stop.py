"""The api's background work stops at shutdown: the cache-version refresher even when a Redis call
drops its cancellation (as redis-py's send does on Python 3.11, see shared.tasks), and the rate
limiter's reservations still running in the background. Fakes of Redis; no sockets."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis

from services.api.cache import RedisGate, VersionWatcher
from services.api.ratelimit import RateLimiter
from shared.cache import CacheKeys
from shared.tasks import stop_task


def gate_on(redis: object) -> RedisGate:
    return RedisGate(cast(Redis, redis), Gauge("redis_up", "up", registry=CollectorRegistry()))


class DroppingRedis:
    """MGET waits until it is cancelled, then drops the cancellation and answers."""

    def __init__(self) -> None:
        self.calls = 0
        self.waiting = asyncio.Event()

    async def mget(self, keys: list[str]) -> list[bytes | None]:
        self.calls += 1
        self.waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # asyncio.wait_for on 3.11, when the send it wrapped finished in the same iteration
        return [b"7", None]


async def test_the_refresher_stops_although_redis_drops_the_cancellation() -> None:
    redis = DroppingRedis()
    watcher = VersionWatcher(gate_on(redis), CacheKeys("t:"), interval=0.05)
    task = asyncio.create_task(watcher.run(), name="api-cache-version")
    await asyncio.wait_for(redis.waiting.wait(), 10)
    watcher.stop()
    # Without the flag the loop would go on reading (every read drops its cancel) until the deadline.
    assert await stop_task(task, timeout=5)
    assert task.done() and redis.calls == 1 and watcher.version == "7"


class HangingScripts:
    """A Redis whose first reservation answers and every later one hangs until cancelled."""

    def __init__(self) -> None:
        self.calls = 0
        self.hanging = asyncio.Event()
        self.cancelled = asyncio.Event()

    def register_script(self, source: str) -> Any:
        async def call(keys: list[str], args: list[int]) -> list[int]:
            self.calls += 1
            if self.calls == 1:
                return [args[0], 60_000]  # the counter was fresh: numbers 1..size, a 60 s window
            self.hanging.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
            raise AssertionError("unreachable")

        return call


async def test_closing_the_limiter_stops_its_background_reservation() -> None:
    redis = HangingScripts()
    limited = Counter("limited", "refused", registry=CollectorRegistry())
    limiter = RateLimiter(gate_on(redis), CacheKeys("t:"), 10_000, 60, [], limited)
    decision = await limiter.check("192.0.2.1")  # reserves one number, then the next batch ahead
    assert decision.allowed
    await asyncio.wait_for(redis.hanging.wait(), 10)
    await asyncio.wait_for(limiter.close(timeout=5), 10)
    assert redis.cancelled.is_set()
