"""The API's response cache: bodies in Redis, ETags, Cache-Control, and Redis fault tolerance.

Owns three things. :class:`RedisGate` remembers that Redis just failed and skips it for a few
seconds, so a Redis outage costs one timeout per few seconds instead of one per request (the API
then answers from PostgreSQL). :class:`BodyCache` stores finished response bodies under
``<prefix>api:<cache version>:<endpoint>:<package>:<params>``; the version is the one the
aggregator bumps after committing a day (shared.cache), read in the same round trip as the body by
a Lua script, so a bump invalidates every body at once. Entries also expire after a TTL.
:func:`max_age` is the pure rule for ``Cache-Control``: until the next expected daily update.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.cache import CacheKeys
from shared.logging import get_logger

log = get_logger(__name__)

REDIS_RETRY_SECONDS = 5.0

# KEYS[1] = the cache-version key; ARGV[1] = prefix of body keys; ARGV[2] = the rest of the key.
LOOKUP_LUA = """
local version = redis.call('GET', KEYS[1]) or '0'
return {version, redis.call('GET', ARGV[1] .. version .. ':' .. ARGV[2])}
"""


@dataclass(frozen=True)
class Entry:
    """A finished 200 answer: the body, its media type, the last complete day it reflects, its ETag."""

    body: bytes
    content_type: str
    day: dt.date | None
    etag: str

    @classmethod
    def build(cls, body: bytes, content_type: str, day: dt.date | None) -> Entry:
        return cls(body, content_type, day, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')

    def dump(self) -> bytes:
        head = f"{self.content_type}\t{self.day.isoformat() if self.day else ''}\t{self.etag}\n"
        return head.encode() + self.body

    @classmethod
    def load(cls, raw: bytes) -> Entry:
        head, _, body = raw.partition(b"\n")
        content_type, day, etag = head.decode().split("\t")
        return cls(body, content_type, dt.date.fromisoformat(day) if day else None, etag)


def max_age(day: dt.date | None, now: dt.datetime, update_time: dt.time, minimum: int) -> int:
    """Seconds until the day after ``day`` is expected to be loaded: ``day + 2`` at ``update_time``
    (day D+1 closes at midnight and is ingested after ``update_time``). ``minimum`` when that moment
    has passed (the update is late) or no day is complete yet."""
    if day is None:
        return minimum
    expected = dt.datetime.combine(day + dt.timedelta(days=2), update_time)
    seconds = int((expected - now).total_seconds())
    return seconds if seconds > minimum else minimum


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, ``*`` matches)."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


class RedisGate:
    """Skips Redis for ``retry_seconds`` after a failure; reports the state as a gauge."""

    def __init__(self, redis: Redis | None, up: Gauge, retry_seconds: float = REDIS_RETRY_SECONDS) -> None:
        self.redis = redis
        self.retry_seconds = retry_seconds
        self._skip_until = 0.0
        self._up = up
        up.set(1 if redis is not None else 0)

    def client(self) -> Redis | None:
        """The client, or None while Redis is considered down."""
        if self.redis is None or time.monotonic() < self._skip_until:
            return None
        return self.redis

    def failed(self, exc: BaseException) -> None:
        if self._skip_until < time.monotonic():
            log.warning("redis unavailable, answering without it", error=type(exc).__name__)
        self._skip_until = time.monotonic() + self.retry_seconds
        self._up.set(0)

    def succeeded(self) -> None:
        if self._skip_until:
            self._skip_until = 0.0
            self._up.set(1)


class BodyCache:
    """Response bodies in Redis keyed by cache version, endpoint, package and parameters."""

    def __init__(self, gate: RedisGate, keys: CacheKeys, ttl: int, requests: Counter) -> None:
        self.gate, self.keys, self.ttl, self.requests = gate, keys, ttl, requests
        self._lookup = gate.redis.register_script(LOOKUP_LUA) if gate.redis is not None else None
        self.body_prefix = keys.key("api", "")

    async def get(self, key: str) -> tuple[Entry | None, str | None]:
        """``(entry or None, cache version or None when Redis is unusable)``."""
        client = self.gate.client()
        if self.ttl == 0 or client is None or self._lookup is None:
            self.requests.labels("error" if self.ttl else "disabled").inc()
            return None, None
        try:
            version, raw = await self._lookup(keys=[self.keys.version], args=[self.body_prefix, key])
        except (RedisError, OSError) as exc:
            self.gate.failed(exc)
            self.requests.labels("error").inc()
            return None, None
        self.gate.succeeded()
        version = version.decode() if isinstance(version, bytes) else str(version)
        if raw is None:
            self.requests.labels("miss").inc()
            return None, version
        try:
            entry = Entry.load(raw)
        except ValueError:  # a corrupt entry is a miss, and is overwritten below
            self.requests.labels("miss").inc()
            return None, version
        self.requests.labels("hit").inc()
        return entry, version

    async def put(self, version: str | None, key: str, entry: Entry) -> None:
        client = self.gate.client()
        if version is None or client is None:
            return
        try:
            await client.set(f"{self.body_prefix}{version}:{key}", entry.dump(), ex=self.ttl)
        except (RedisError, OSError) as exc:
            self.gate.failed(exc)
