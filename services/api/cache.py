"""The API's response cache: finished bodies in process memory and in Redis, ETags, Cache-Control,
and Redis fault tolerance.

Owns three things, on top of the shared Redis gate.

:class:`~shared.redis_gate.RedisGate` (shared with web and auth) remembers that Redis just failed
and skips it for a few seconds, so an outage costs one timeout per few seconds instead of one per
request (the API then answers from PostgreSQL).

:class:`VersionWatcher` holds the cache version the aggregator bumps after committing a day,
with the WAL position recorded with it (shared.cache; both in one ``MGET``). It re-reads them
when ``rollups.updated`` arrives (shared.listen: the aggregator bumps before it announces), and a
background task re-reads them every ``CACHE_VERSION_REFRESH_SECONDS`` (1 s by default) as the
fallback while NATS is away, so a request never waits on Redis to learn them.
While Redis is unusable the version is unknown (``None``) and nothing is cached or served from a
cache, exactly as if the cache were off. Where an uncached body is read (and whether it may be
cached) is shared.db.replica's decision.

:class:`BodyCache` has two levels, both keyed by that version: a per-process LRU of finished
:class:`Entry` objects bounded by ``LOCAL_CACHE_MB`` (a hit costs a dict lookup, no I/O), and
Redis under ``<prefix>api:<version>:<endpoint>:<package>:<params>``, shared by every replica, so
a replica that starts or misses locally reads a body another one already built instead of
querying PostgreSQL. Both levels expire entries after ``CACHE_TTL_SECONDS``; a new version
empties the local level and makes every Redis key of the old one unreachable. For
``CACHE_STALE_SECONDS`` after a new version (0, off, by default) the local level still holds the
previous one's entries aside: a miss that finds one there answers it at once while the new body
is built in the background (services.api.views), so the minute after a day lands costs no
request a wait on PostgreSQL, and every answer is new again within those seconds.

:func:`max_age` is the pure rule for ``Cache-Control``: until the next expected daily update.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import OrderedDict
from dataclasses import dataclass

from prometheus_client import Counter
from redis.exceptions import RedisError

from shared.cache import CacheKeys, CacheVersion, read_cache_version
from shared.logging import get_logger
from shared.redis_gate import RedisGate
from shared.web import strong_etag

log = get_logger(__name__)


@dataclass(frozen=True)
class Entry:
    """A finished 200 answer: the body, its media type, the last complete day it reflects, its ETag."""

    body: bytes
    content_type: str
    day: dt.date | None
    etag: str

    @classmethod
    def build(cls, body: bytes, content_type: str, day: dt.date | None) -> Entry:
        return cls(body, content_type, day, strong_etag(body))

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


class CacheControl:
    """``Cache-Control`` header values per last complete day, recomputed at most once a second."""

    def __init__(self, update_time: dt.time, minimum: int) -> None:
        self.update_time, self.minimum = update_time, minimum
        self._memo: dict[dt.date | None, tuple[int, str]] = {}

    def value(self, day: dt.date | None) -> str:
        second = int(time.time())
        found = self._memo.get(day)
        if found is not None and found[0] == second:
            return found[1]
        now = dt.datetime.fromtimestamp(second, dt.UTC)
        text = f"public, max-age={max_age(day, now, self.update_time, self.minimum)}"
        if len(self._memo) > 64:  # days only move forward: old ones are never asked again
            self._memo.clear()
        self._memo[day] = (second, text)
        return text


class VersionWatcher:
    """The aggregator's cache version, re-read from Redis every ``interval`` seconds by :meth:`run`."""

    def __init__(self, gate: RedisGate, keys: CacheKeys, interval: float) -> None:
        self.gate, self.keys, self.interval = gate, keys, interval
        #: The current version and the WAL position recorded with it, or None while Redis is
        #: unusable (then nothing is cached).
        self.current: CacheVersion | None = None
        self._stopped = False

    @property
    def version(self) -> str | None:
        """The current version as it appears in cache keys."""
        return self.current.key if self.current is not None else None

    async def refresh(self) -> CacheVersion | None:
        client = self.gate.client()
        if client is None:
            self.current = None
            return None
        try:
            current = await read_cache_version(client, self.keys)
        except (RedisError, OSError) as exc:
            self.gate.failed(exc)
            self.current = None
            return None
        except ValueError:  # not a number: nothing is cached until the aggregator bumps it again
            self.current = None
            return None
        self.gate.succeeded()
        self.current = current
        return current

    async def changed(self, cache: BodyCache) -> None:
        """``rollups.updated`` arrived: drop the in-process bodies and learn the new version now."""
        cache.local.clear()
        await self.refresh()

    async def run(self) -> None:
        """Refresh until :meth:`stop` (and cancelled at shutdown); one failed read never ends the
        loop. The flag ends it even when a cancellation is lost inside a Redis call (shared.tasks)."""
        while not self._stopped:
            await asyncio.sleep(self.interval)
            await self.refresh()

    def stop(self) -> None:
        """Make :meth:`run` return after the read in progress, if any."""
        self._stopped = True


class LocalCache:
    """An LRU of entries of one cache version, bounded by the total size of their bodies.

    When the version changes, the entries of the one before are kept aside for ``stale_for``
    seconds (:meth:`get_stale`), so a body can be answered at once while its new version is built
    (``CACHE_STALE_SECONDS``); memory holds up to twice ``max_bytes`` during that time."""

    def __init__(self, max_bytes: int, ttl: float, stale_for: float = 0.0) -> None:
        self.max_bytes, self.ttl, self.stale_for = max_bytes, ttl, stale_for
        self.version: str | None = None
        self.size = 0
        self._entries: OrderedDict[str, tuple[Entry, float]] = OrderedDict()
        self._previous: dict[str, tuple[Entry, float]] = {}
        self._previous_until = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, version: str, key: str, now: float) -> Entry | None:
        if version != self.version:
            self._reset(version, now)
            return None
        found = self._entries.get(key)
        if found is None:
            return None
        if found[1] <= now:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, version: str, key: str, entry: Entry, now: float) -> None:
        if version != self.version or len(entry.body) > self.max_bytes:
            return  # built under a version replaced meanwhile (get() switched versions), or too big
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (entry, now + self.ttl)
        self.size += len(entry.body)
        while self.size > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        entry, _ = self._entries.pop(key)
        self.size -= len(entry.body)

    def get_stale(self, key: str, now: float) -> Entry | None:
        """The entry of the version before the current one, while it may still be answered."""
        if now >= self._previous_until:
            if self._previous:
                self._previous = {}
            return None
        found = self._previous.get(key)
        return found[0] if found is not None and found[1] > now else None

    def clear(self, now: float | None = None) -> None:
        """Forget every entry (a new cache version is announced), keeping them aside a while."""
        self._set_aside(time.monotonic() if now is None else now)
        self.version = None

    def _reset(self, version: str, now: float) -> None:
        if self.version is not None:
            self._set_aside(now)
        self.version = version

    def _set_aside(self, now: float) -> None:
        if self.stale_for > 0 and self._entries:
            self._previous = dict(self._entries)
            self._previous_until = now + self.stale_for
        self._entries = OrderedDict()
        self.size = 0


class BodyCache:
    """Finished answers keyed by cache version, endpoint, package and parameters (see the module doc)."""

    def __init__(
        self,
        gate: RedisGate,
        keys: CacheKeys,
        ttl: int,
        requests: Counter,
        watcher: VersionWatcher,
        local_bytes: int,
        stale_seconds: float = 0.0,
    ) -> None:
        self.gate, self.keys, self.ttl, self.watcher = gate, keys, ttl, watcher
        self.body_prefix = keys.key("api", "")
        self.local = LocalCache(local_bytes, ttl, stale_seconds)
        self._hit, self._miss = requests.labels("hit"), requests.labels("miss")
        self._error, self._disabled = requests.labels("error"), requests.labels("disabled")
        self._stale = requests.labels("stale")

    def version(self) -> CacheVersion | None:
        """The version to key on now, or None when caching is off or Redis is unusable."""
        if self.ttl == 0:
            self._disabled.inc()
            return None
        version = self.watcher.current
        if version is None:
            self._error.inc()
        return version

    def get_local(self, version: str, key: str) -> Entry | None:
        """The in-process entry, without any I/O (the hot path of a cached request)."""
        entry = self.local.get(version, key, time.monotonic())
        if entry is not None:
            self._hit.inc()
        return entry

    def get_stale(self, key: str) -> Entry | None:
        """The previous version's in-process entry, in the first ``CACHE_STALE_SECONDS`` after a
        new version (see :class:`LocalCache`)."""
        entry = self.local.get_stale(key, time.monotonic())
        if entry is not None:
            self._stale.inc()
        return entry

    async def get_shared(self, version: str, key: str) -> Entry | None:
        """The entry another replica (or this one, before a restart) stored in Redis."""
        client = self.gate.client()
        if client is None:
            self._error.inc()
            return None
        try:
            raw = await client.get(f"{self.body_prefix}{version}:{key}")
        except (RedisError, OSError) as exc:
            self.gate.failed(exc)
            self._error.inc()
            return None
        self.gate.succeeded()
        entry = None
        if isinstance(raw, bytes):
            try:
                entry = Entry.load(raw)
            except ValueError:  # a corrupt entry is a miss, and is overwritten by the caller
                entry = None
        if entry is None:
            self._miss.inc()
            return None
        self._hit.inc()
        self.local.put(version, key, entry, time.monotonic())
        return entry

    async def put(self, version: str, key: str, entry: Entry) -> None:
        self.local.put(version, key, entry, time.monotonic())
        client = self.gate.client()
        if client is None:
            return
        try:
            await client.set(f"{self.body_prefix}{version}:{key}", entry.dump(), ex=self.ttl)
        except (RedisError, OSError) as exc:
            self.gate.failed(exc)
