"""The Redis cache of rendered page fragments.

Owns the key scheme ``<prefix>web:page:v<cache version>:<route>:<hash of params>`` and the
``pypistats_web_cache_requests_total{result}`` counter. Only the non-personal part of a page is
cached (the header with the login state and the track buttons are rendered per request), so one
user's page never reaches another. The aggregator's cache-version bump makes every old entry
unreachable at once. When Redis fails the page is built from PostgreSQL and served anyway, and
the shared :class:`~shared.redis_gate.RedisGate` skips Redis for a few seconds, so a hung Redis
costs one timeout, not one per page.

Builders run on a connection the :class:`~shared.db.replica.ReadRouter` picks: with a read
replica, a fragment is stored under version N only when it was built on a server that has
replayed N's WAL position (else it is built on the primary, or served uncached).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from shared.cache import CacheKeys, read_cache_version
from shared.db.replica import ReadRouter
from shared.metrics import metric_name
from shared.redis_gate import REDIS_ERRORS, RedisGate

Payload = dict[str, Any]
#: Builds a fragment on the connection it is given.
Build = Callable[[Any], Awaitable[Payload]]


class PageCache:
    def __init__(
        self, gate: RedisGate, keys: CacheKeys, ttl: int, registry: CollectorRegistry, reader: ReadRouter
    ) -> None:
        self.gate = gate
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
        redis = self.gate.client() if self.ttl else None
        if redis is None:
            self.requests.labels("bypass" if self.ttl == 0 or self.gate.redis is None else "error").inc()
            return (await self.reader.run(None, build))[0]
        try:
            version = await read_cache_version(redis, self.keys)
            key = self.key(version.number, route, params)
            raw = await redis.get(key)
        except REDIS_ERRORS as exc:
            self.gate.failed(exc)
            self.requests.labels("error").inc()
            return (await self.reader.run(None, build))[0]
        self.gate.succeeded()
        if raw is not None:
            self.requests.labels("hit").inc()
            payload: Payload = json.loads(raw)
            return payload
        self.requests.labels("miss").inc()
        payload, cacheable = await self.reader.run(version, build)
        if not cacheable:
            return payload
        try:
            await redis.set(key, json.dumps(payload, default=str), ex=self.ttl)
        except REDIS_ERRORS as exc:
            self.gate.failed(exc)
        return payload
