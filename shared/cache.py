"""Redis keys shared between services: the cache version and key naming.

Owns the contract between the aggregator (which bumps the cache version after committing a day)
and the readers (api, web), which put the version into every cache key, so a bump invalidates
every cached body at once without scanning keys.
"""

from __future__ import annotations

from redis.asyncio import Redis


class CacheKeys:
    """Key names under one prefix (``pypistats:`` by default, the namespace in tests)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @property
    def version(self) -> str:
        return f"{self.prefix}cache:version"

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)


async def get_cache_version(redis: Redis, keys: CacheKeys) -> int:
    value = await redis.get(keys.version)
    return int(value) if value is not None else 0


async def bump_cache_version(redis: Redis, keys: CacheKeys) -> int:
    """Invalidate every cached body; returns the new version."""
    return int(await redis.incr(keys.version))
