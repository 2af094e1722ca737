"""The ingest lock in Redis, and how a scheduler pass and a backfill share it.

Owns :class:`RedisLock` (``SET NX PX`` with a random token, renewed while held, released only by
its owner; a taker may wait for it) and the hand-over between the two kinds of holder:

- a scheduler **pass** takes the lock for its whole pass (a few days, newest first);
- a **backfill** takes it for one day at a time, and before each day it looks for the pass's
  request (:class:`PassRequest`, a key with a short expiry) and waits while one is there.

So when a pass finds the lock held by a backfill, it posts its request and waits at most for the
backfill's current day to end; the backfill then lets it through, and goes on with its next day
once the pass has released the lock. A pass never waits behind another pass longer than it asked
to (``lock_wait``); it waits for a backfill up to ``backfill_wait_s``. Each token starts with its
holder's kind (``pass:``, ``backfill:``), which is how a taker tells them apart.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Literal

from redis.asyncio import Redis

from shared.logging import get_logger

log = get_logger(__name__)

Holder = Literal["pass", "backfill"]
HOLDERS: tuple[Holder, ...] = ("pass", "backfill")

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
"""

#: Lifetime of a pass's request; it is posted again on every poll while the pass waits, so a
#: pass that dies while waiting stops holding the backfill back within this time.
REQUEST_TTL_S = 10.0


def lock_key(redis_prefix: str) -> str:
    """The key of the ingest lock for a namespace's Redis prefix."""
    return f"{redis_prefix}ingest:lock"


class RedisLock:
    """A single-owner lock with expiry; only the holder's token can renew or release it."""

    def __init__(self, redis: Redis, key: str, ttl_s: float, holder: Holder = "pass") -> None:
        self.redis, self.key = redis, key
        self.ttl_ms = int(ttl_s * 1000)
        self.token = f"{holder}:{secrets.token_hex(16)}"

    async def acquire(self, wait_s: float = 0.0, poll_s: float = 1.0) -> bool:
        """Take the lock if it is free; with ``wait_s``, keep trying that long (every ``poll_s``)."""
        deadline = time.monotonic() + wait_s
        while not await self.try_acquire():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(poll_s, left))
        return True

    async def try_acquire(self) -> bool:
        return bool(await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))

    async def holder(self) -> Holder | None:
        """The kind of whoever holds the lock now (``None`` when it is free or not ours to read)."""
        value = await self.redis.get(self.key)
        if value is None:
            return None
        text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        kind = text.split(":", 1)[0]
        for known in HOLDERS:
            if kind == known:
                return known
        return "pass"  # a token from before holder kinds: treat it like another pass

    async def renew(self) -> bool:
        return bool(await self.redis.eval(_RENEW, 1, self.key, self.token, str(self.ttl_ms)))

    async def release(self) -> bool:
        return bool(await self.redis.eval(_RELEASE, 1, self.key, self.token))


class PassRequest:
    """A scheduler pass's "I want the lock next", which a backfill honours between its days."""

    def __init__(self, redis: Redis, key: str, ttl_s: float = REQUEST_TTL_S) -> None:
        self.redis = redis
        self.key = f"{key}:wanted"
        self.ttl_ms = int(ttl_s * 1000)

    async def post(self) -> None:
        await self.redis.set(self.key, "1", px=self.ttl_ms)

    async def withdraw(self) -> None:
        await self.redis.delete(self.key)

    async def posted(self) -> bool:
        return bool(await self.redis.exists(self.key))


async def take_for_pass(
    lock: RedisLock, request: PassRequest, *, wait_s: float, backfill_wait_s: float, poll_s: float = 1.0
) -> bool:
    """Take the lock for a pass: at once when free; behind another pass for up to ``wait_s``;
    behind a backfill (which yields after its current day) for up to ``backfill_wait_s``."""
    started = time.monotonic()
    told = False
    try:
        while True:
            if await lock.try_acquire():
                return True
            holder = await lock.holder()
            waited = time.monotonic() - started
            if holder == "backfill":
                if waited >= max(wait_s, backfill_wait_s):
                    return False
                await request.post()
                if not told:
                    log.info("a backfill holds the ingest lock; asking it to yield after its day")
                    told = True
            elif holder is not None and waited >= wait_s:
                return False
            await asyncio.sleep(poll_s)
    finally:
        if told:
            await request.withdraw()


async def take_for_backfill(lock: RedisLock, request: PassRequest, *, poll_s: float = 1.0) -> None:
    """Take the lock for one backfill day, letting a waiting (or running) pass go first; waits as
    long as that takes (a pass's lock expires if its process dies)."""
    told = False
    while True:
        if not await request.posted() and await lock.try_acquire():
            return
        if not told:
            log.info("backfill waiting: a scheduler pass goes first")
            told = True
        await asyncio.sleep(poll_s)


async def keep_renewing(lock: RedisLock, every_s: float) -> None:
    """Renew ``lock`` every ``every_s`` until cancelled (a lost lock or Redis error is logged)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            if not await lock.renew():
                log.warning("ingest lock lost while running")
        except Exception as exc:
            log.warning("cannot renew the ingest lock", error=type(exc).__name__)
