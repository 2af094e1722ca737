"""The Redis cache of rendered page fragments.

Owns the key scheme ``<prefix>web:page:v<cache version>:<route>:<hash of params>`` and the
``pypistats_web_cache_requests_total{result}`` counter. Only the non-personal part of a page is
cached (the header with the login state and the track buttons are rendered per request), so one
user's page never reaches another. The aggregator's cache-version bump makes every old entry
unreachable at once. When Redis fails the page is built from PostgreSQL and served anyway, and
the shared :class:`~shared.redis_gate.RedisGate` skips Redis for a few seconds, so a hung Redis
costs one timeout, not one per page.

The cache version is held in memory by :class:`KnownVersion`: re-read from Redis when
``rollups.updated`` arrives (shared.listen; the aggregator bumps it before announcing) and every
``CACHE_VERSION_REFRESH_SECONDS`` as the fallback while NATS is away, so a page costs one Redis
round trip less. While it is unknown (Redis failed at the last read) each request reads it.

Builders run on a connection the :class:`~shared.db.replica.ReadRouter` picks: with a read
replica, a fragment is stored under version N only when it was built on a server that has
replayed N's WAL position (else it is built on the primary, or served uncached).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from shared.cache import CacheKeys, CacheVersion, read_cache_version
from shared.db.replica import ReadRouter
from shared.metrics import metric_name
from shared.redis_gate import REDIS_ERRORS, RedisGate

Payload = dict[str, Any]
#: Builds a fragment on the connection it is given.
Build = Callable[[Any], Awaitable[Payload]]


class KnownVersion:
    """The aggregator's cache version as this process last read it (None: unknown)."""

    def __init__(self, gate: RedisGate, keys: CacheKeys, interval: float) -> None:
        self.gate, self.keys, self.interval = gate, keys, interval
        self.current: CacheVersion | None = None
        self._stopped = False

    async def refresh(self) -> CacheVersion | None:
        redis = self.gate.client()
        if redis is None:
            self.current = None
            return None
        try:
            self.current = await read_cache_version(redis, self.keys)
        except REDIS_ERRORS as exc:
            self.gate.failed(exc)
            self.current = None
        except ValueError:  # not a number: unknown until the aggregator bumps it again
            self.current = None
        else:
            self.gate.succeeded()
        return self.current

    async def run(self) -> None:
        """Re-read every ``interval`` seconds until :meth:`stop`. The flag ends the loop even when
        a cancellation is lost inside a Redis call (shared.tasks)."""
        while not self._stopped:
            await asyncio.sleep(self.interval)
            await self.refresh()

    def stop(self) -> None:
        """Make :meth:`run` return after the read in progress, if any."""
        self._stopped = True


class PageCache:
    def __init__(
        self,
        gate: RedisGate,
        keys: CacheKeys,
        ttl: int,
        registry: CollectorRegistry,
        reader: ReadRouter,
        known: KnownVersion | None = None,
    ) -> None:
        self.gate = gate
        self.known = known
        self.reader = reader
        self.keys = keys
        self.ttl = ttl
        self.requests = Counter(
            metric_name("web", "cache_requests"),
            "Page-fragment cache lookups, by result (hit, miss, error, bypass).",
            ["result"],
            registry=registry,
        )

    def key(self, version: int, route: str, params: dict[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:32]
        return self.keys.key("web", "page", f"v{version}", route, digest)

    async def get_or_build(self, route: str, params: dict[str, Any], build: Build) -> Payload:
        """The cached payload for (version, route, params), or ``build(conn)`` stored for next time.

        ``build`` may raise (an unknown package, a bad parameter): nothing is stored then.
        """
        return (await self.get_or_build_cacheable(route, params, build))[0]

    async def get_or_build_cacheable(
        self, route: str, params: dict[str, Any], build: Build
    ) -> tuple[Payload, bool]:
        """:meth:`get_or_build`, and whether the payload may be cached under the current version
        (False: Redis is off or failed, the version is unknown, or it was read from a replica
        behind it), for a cache built on top of this one (services.web.pagebytes)."""
        redis = self.gate.client() if self.ttl else None
        if redis is None:
            self.requests.labels("bypass" if self.ttl == 0 or self.gate.redis is None else "error").inc()
            return (await self.reader.run(None, build))[0], False
        try:
            version = self.known.current if self.known is not None else None
            if version is None:
                version = await read_cache_version(redis, self.keys)
            key = self.key(version.number, route, params)
            raw = await redis.get(key)
        except REDIS_ERRORS as exc:
            self.gate.failed(exc)
            self.requests.labels("error").inc()
            return (await self.reader.run(None, build))[0], False
        self.gate.succeeded()
        if raw is not None:
            self.requests.labels("hit").inc()
            payload: Payload = json.loads(raw)
            return payload, True
        self.requests.labels("miss").inc()
        payload, cacheable = await self.reader.run(version, build)
        if not cacheable:
            return payload, False
        try:
            await redis.set(key, json.dumps(payload, default=str), ex=self.ttl)
        except REDIS_ERRORS as exc:
            self.gate.failed(exc)
        return payload, True
