"""Redis keys shared between services: the cache version, the WAL position behind it, key naming.

Owns the contract between the aggregator (which bumps the cache version after committing a day)
and the readers (api, web), which put the version into every cache key, so a bump invalidates
every cached body at once without scanning keys.

Next to the version the aggregator records the primary's WAL position (``pg_current_wal_lsn()``)
read *after* its commit, under ``<prefix>cache:version:lsn`` as ``"<version> <X/Y>"``. One Lua
script increments the version and writes that record, so a reader that sees version N (both
keys are read in one ``MGET``) sees the position of N or, when the bump carried none, a record of
an older version, which it ignores. The recorded position never goes backwards: two aggregator
replicas bumping at once could otherwise pair the later version with the earlier position.
Readers on a replica (shared.db.replica) cache a body under version N only when their server
has replayed at least that position.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from redis.asyncio import Redis

from shared.logging import get_logger

log = get_logger(__name__)

#: The primary's WAL write position, read after a commit (asyncpg returns a ``pg_lsn`` as an int).
CURRENT_WAL_LSN = "SELECT pg_current_wal_lsn()"

# KEYS[1] = version, KEYS[2] = its LSN record; ARGV[1] = the LSN as X/Y, or "" when unknown.
BUMP_SCRIPT = """
local version = redis.call('INCR', KEYS[1])
local lsn = ARGV[1]
if lsn == '' then
    return version
end
local old = redis.call('GET', KEYS[2])
if old then
    local old_lsn = string.match(old, ' (%x+/%x+)$')
    if old_lsn then
        local oh, ol = string.match(old_lsn, '^(%x+)/(%x+)$')
        local nh, nl = string.match(lsn, '^(%x+)/(%x+)$')
        oh, ol, nh, nl = tonumber(oh, 16), tonumber(ol, 16), tonumber(nh, 16), tonumber(nl, 16)
        if oh > nh or (oh == nh and ol > nl) then
            lsn = old_lsn
        end
    end
end
redis.call('SET', KEYS[2], version .. ' ' .. lsn)
return version
"""


class CacheKeys:
    """Key names under one prefix (``pypistats:`` by default, the namespace in tests)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @property
    def version(self) -> str:
        return f"{self.prefix}cache:version"

    @property
    def version_lsn(self) -> str:
        return f"{self.prefix}cache:version:lsn"

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)


@dataclass(frozen=True)
class CacheVersion:
    """A cache version and the primary's WAL position recorded with it (None when not recorded)."""

    number: int
    lsn: int | None = None

    @property
    def key(self) -> str:
        """The version as it appears in cache keys."""
        return str(self.number)


def format_lsn(lsn: int) -> str:
    """``0x16B374D848`` -> ``"16/B374D848"``, PostgreSQL's spelling of a ``pg_lsn``."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """``"16/B374D848"`` -> ``0x16B374D848``; ValueError when it is not an LSN."""
    high, sep, low = text.strip().partition("/")
    if not sep:
        raise ValueError(f"not an LSN: {text!r}")
    return (int(high, 16) << 32) | int(low, 16)


def parse_version(raw_version: bytes | str | None, raw_lsn: bytes | str | None) -> CacheVersion:
    """The version from the two keys' raw values; the LSN only when its record names that version."""
    number = int(raw_version) if raw_version is not None else 0
    lsn = None
    if raw_lsn is not None:
        text = raw_lsn.decode() if isinstance(raw_lsn, bytes) else raw_lsn
        recorded, _, position = text.partition(" ")
        try:
            if int(recorded) == number:
                lsn = parse_lsn(position)
        except ValueError:
            lsn = None  # a corrupt record is no record: readers then ask the primary
    return CacheVersion(number, lsn)


async def read_cache_version(redis: Redis, keys: CacheKeys) -> CacheVersion:
    """The version and its LSN, read together in one round trip."""
    raw_version, raw_lsn = await redis.mget([keys.version, keys.version_lsn])
    return parse_version(raw_version, raw_lsn)


async def get_cache_version(redis: Redis, keys: CacheKeys) -> int:
    return (await read_cache_version(redis, keys)).number


async def bump_cache_version(redis: Redis, keys: CacheKeys, lsn: int | None = None) -> int:
    """Invalidate every cached body; returns the new version.

    ``lsn``: the primary's WAL position read after the commit the bump announces (see the module
    doc); without it readers on a replica ask the primary for its position themselves.
    """
    arg = format_lsn(lsn) if lsn is not None else ""
    return int(await redis.eval(BUMP_SCRIPT, 2, keys.version, keys.version_lsn, arg))


async def bump_after_commit(redis: Redis, keys: CacheKeys, db: asyncpg.Pool | asyncpg.Connection) -> int:
    """Read the primary's WAL position from ``db`` (after the caller committed), then bump with it.

    A failure to read the position still bumps: the version must move, and readers that find no
    position for it ask the primary themselves.
    """
    lsn: int | None
    try:
        lsn = await db.fetchval(CURRENT_WAL_LSN)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        log.warning(
            "WAL position unavailable, bumping the cache version without it", error=type(exc).__name__
        )
        lsn = None
    return await bump_cache_version(redis, keys, lsn)
