"""When to ingest what: the scheduler's pure day planning, cron arithmetic and the Redis lock.

Owns the rules of contracts.md section 2 for choosing days: only closed UTC days; every pass
ingests the last closed day and re-ingests the ``resettle_days`` before it (BigQuery loads late
rows in batches); and it fills any day inside the retention window that has no complete ingest.
The lock makes a pass single-flight across replicas (``SET NX PX`` with a random token, renewed
while held, released only by its owner); a taker may wait for it to free up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from collections.abc import Iterable

from croniter import croniter
from redis.asyncio import Redis

UTC = dt.UTC


def last_closed_day(now: dt.datetime) -> dt.date:
    """The most recent UTC day that has fully ended at ``now``."""
    return now.astimezone(UTC).date() - dt.timedelta(days=1)


def plan_days(
    now: dt.datetime,
    *,
    retention_days: int,
    resettle_days: int,
    complete: Iterable[dt.date] | None,
) -> list[dt.date]:
    """Days to ingest in one pass, newest first.

    ``complete`` holds the days recorded in ``ingest_days``; ``None`` means it could not be read, in
    which case only the last closed day and the resettle days are planned (never the whole window).
    """
    last = last_closed_day(now)
    wanted = {last - dt.timedelta(days=k) for k in range(resettle_days + 1)}
    if complete is not None:
        done = set(complete)
        oldest = last - dt.timedelta(days=retention_days)
        day = oldest
        while day <= last:
            if day not in done:
                wanted.add(day)
            day += dt.timedelta(days=1)
    return sorted(wanted, reverse=True)


def next_fire(schedule: str, now: dt.datetime) -> dt.datetime:
    """The next time the cron ``schedule`` (UTC) fires strictly after ``now``."""
    if not croniter.is_valid(schedule):
        raise ValueError(f"invalid cron schedule {schedule!r}")
    fire: dt.datetime = croniter(schedule, now.astimezone(UTC)).get_next(dt.datetime)
    return fire


def day_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end`` inclusive (``ValueError`` when end is before start)."""
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
"""


class RedisLock:
    """A single-owner lock with expiry; only the holder's token can renew or release it."""

    def __init__(self, redis: Redis, key: str, ttl_s: float) -> None:
        self.redis, self.key = redis, key
        self.ttl_ms = int(ttl_s * 1000)
        self.token = secrets.token_hex(16)

    async def acquire(self, wait_s: float = 0.0, poll_s: float = 1.0) -> bool:
        """Take the lock if it is free; with ``wait_s``, keep trying that long (every ``poll_s``)."""
        deadline = time.monotonic() + wait_s
        while not await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(poll_s, left))
        return True

    async def renew(self) -> bool:
        return bool(await self.redis.eval(_RENEW, 1, self.key, self.token, str(self.ttl_ms)))

    async def release(self) -> bool:
        return bool(await self.redis.eval(_RELEASE, 1, self.key, self.token))
