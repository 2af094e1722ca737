"""The cache version and its WAL position record in a real Redis (shared.cache)."""

from __future__ import annotations

import asyncpg
from redis.asyncio import Redis

from shared.cache import CacheKeys, CacheVersion, bump_after_commit, bump_cache_version, read_cache_version


async def test_the_position_goes_with_its_version_and_never_backwards(redis: Redis, namespace: str) -> None:
    keys = CacheKeys(f"{namespace}:")
    assert await read_cache_version(redis, keys) == CacheVersion(0, None)
    assert await bump_cache_version(redis, keys, 0x1_0000_0200) == 1
    assert await read_cache_version(redis, keys) == CacheVersion(1, 0x1_0000_0200)
    assert await redis.get(keys.version_lsn) == b"1 1/200"
    # A bump carrying an older position (another aggregator replica read it earlier) keeps the newer one.
    assert await bump_cache_version(redis, keys, 0x0_FFFF_FFFF) == 2
    assert await read_cache_version(redis, keys) == CacheVersion(2, 0x1_0000_0200)
    # A bump without a position leaves no position for the new version: readers ask the primary.
    assert await bump_cache_version(redis, keys) == 3
    assert await read_cache_version(redis, keys) == CacheVersion(3, None)
    assert await bump_cache_version(redis, keys, 0x2_0000_0000) == 4
    assert await read_cache_version(redis, keys) == CacheVersion(4, 0x2_0000_0000)


async def test_a_bump_after_commit_records_the_primary_position(
    db: asyncpg.Pool, redis: Redis, namespace: str
) -> None:
    keys = CacheKeys(f"{namespace}:")
    before = await db.fetchval("SELECT pg_current_wal_lsn()")
    await db.execute("INSERT INTO package_index (package, first_day, last_day) VALUES ('x', now(), now())")
    assert await bump_after_commit(redis, keys, db) == 1
    version = await read_cache_version(redis, keys)
    assert version.number == 1 and version.lsn is not None and version.lsn > before
