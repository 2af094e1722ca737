"""Whole package pages as final bytes, in process memory: what a logged-out visit answers with no
template rendering, parsing or encoding.

Owns the per-process LRU (``PAGE_LOCAL_CACHE_MB``, bounded by the bytes it holds, emptied when the
aggregator's cache version changes, like the api's ``LocalCache``) in front of the same bytes in
Redis (:class:`SharedBytes`, every worker's), the two kinds of entries, the slot markers, the
single flight of concurrent builds of one page (``PageBytes.flights``, shared.flight), and
``pypistats_web_page_bytes_requests_total{result}`` and ``pypistats_web_page_builds_joined_total``.

A package page is rendered once per (version, package, range) as a :class:`Shell`: the whole
layout with two fixed slots where the per-visitor parts go (the header's login state with its
"My packages" link and logout form, and the track/untrack form with its CSRF token). The slots
hold comments the page content can never contain (every text is escaped; chart JSON escapes
``<``). A logged-out visit (nearly all traffic) is answered from an :class:`Entry` keyed by the
exact path and query (its login link names them): the shell with the logged-out parts filled in,
its ETag and its gzip variant computed once (nothing else in front of the service compresses
HTML); only these go to Redis. A logged-in visit joins the shell's bytes with
its own two small parts, rendered per request, so one visitor's state never enters a cached
byte; the shell is kept in memory for logged-in visits only (a logged-out miss keeps just its
entry), so logged-out traffic fills the memory with one copy of each page.

The PyPI metadata and release markers in the header come from their own cache (services.web.pypi,
``PYPI_CACHE_TTL``): an entry lives at most that long (capped by ``PAGE_CACHE_TTL``), so the page
never shows metadata much older than the metadata cache does, and only ``FAILURE_TTL_S`` when
PyPI failed and the page has none, so a PyPI hiccup does not stick to a page for an hour.
"""

from __future__ import annotations

import gzip
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from markupsafe import Markup
from prometheus_client import CollectorRegistry, Counter

from services.web.static import accepted
from shared.cache import CacheKeys
from shared.flight import SingleFlight
from shared.metrics import metric_name
from shared.redis_gate import REDIS_ERRORS, RedisGate
from shared.web import strong_etag

T = TypeVar("T")
#: zlib's default: about 1 ms for a 56 KB page, once per entry, to about a seventh of its size.
GZIP_LEVEL = 6

ACCOUNT_SLOT = Markup("<!--pypistats:slot:account-->")
TRACK_SLOT = Markup("<!--pypistats:slot:track-->")


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip: named with a quality above 0, or not
    named and ``*`` allowed (parsed as the static files' negotiation parses it)."""
    codings = accepted(accept_encoding)
    return codings.get("gzip", codings.get("*", 0.0)) > 0


@dataclass(frozen=True)
class Shell:
    """A rendered page cut at its two slots: ``before`` the account part, ``middle`` up to the
    track part, ``after`` it."""

    before: bytes
    middle: bytes
    after: bytes
    #: When this shell may no longer be used (time.monotonic()).
    expires: float

    @classmethod
    def cut(cls, html: str, expires: float) -> Shell:
        """``html`` rendered with :data:`ACCOUNT_SLOT` then :data:`TRACK_SLOT`, each exactly once."""
        before, account, rest = html.partition(ACCOUNT_SLOT)
        middle, track, after = rest.partition(TRACK_SLOT)
        if not account or not track or ACCOUNT_SLOT in after or TRACK_SLOT in after:
            raise ValueError("a page shell needs each slot exactly once, account first")
        return cls(before.encode(), middle.encode(), after.encode(), expires)

    def fill(self, account: str, track: str) -> bytes:
        return b"".join((self.before, account.encode(), self.middle, track.encode(), self.after))

    @property
    def size(self) -> int:
        return len(self.before) + len(self.middle) + len(self.after)


@dataclass(frozen=True)
class Entry:
    """A logged-out page as sent: its body, the same gzip-compressed (compressed once, the first
    time it is sent compressed or kept: a page that is neither, such as one rendered with the
    cache off for a client that does not take gzip, is never compressed), and the ETag of each."""

    body: bytes
    etag: str
    expires: float
    compressed: bytes | None = None

    @classmethod
    def build(cls, body: bytes, expires: float) -> Entry:
        return cls(body, strong_etag(body), expires)

    @property
    def gzipped(self) -> bytes:
        if self.compressed is None:
            object.__setattr__(self, "compressed", gzip.compress(self.body, GZIP_LEVEL, mtime=0))
        assert self.compressed is not None
        return self.compressed

    @property
    def gzip_etag(self) -> str:
        """The compressed variant's ETag: another representation, another (strong) tag."""
        return self.etag[:-1] + '-gzip"'

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped)

    def dump(self, now: float) -> bytes:
        """For Redis: the ETag, the wall-clock expiry and the body's length on the first line,
        then the body and its compressed variant."""
        wall = time.time() + (self.expires - now)
        return f"{self.etag}\t{wall:.3f}\t{len(self.body)}\n".encode() + self.body + self.gzipped

    @classmethod
    def load(cls, raw: bytes, now: float) -> Entry:
        head, _, rest = raw.partition(b"\n")
        etag, wall, length = head.decode().split("\t")
        cut = int(length)
        if cut > len(rest):
            raise ValueError("truncated entry")
        return cls(rest[:cut], etag, now + (float(wall) - time.time()), rest[cut:])


class SharedBytes:
    """The logged-out entries in Redis, shared by every worker and replica, under
    ``<prefix>web:pagebytes:v<version>:<hash of the path and query>`` until the entry expires:
    a worker that misses in memory reads the bytes another one built (no parsing, no rendering).
    Redis trouble only means a miss (the shared gate skips Redis for a few seconds)."""

    def __init__(self, gate: RedisGate, keys: CacheKeys) -> None:
        self.gate, self.keys = gate, keys

    def key(self, version: int, path_qs: str) -> str:
        digest = hashlib.blake2b(path_qs.encode(), digest_size=16).hexdigest()
        return self.keys.key("web", "pagebytes", f"v{version}", digest)

    async def get(self, version: int, path_qs: str, now: float) -> Entry | None:
        redis = self.gate.client()
        if redis is None:
            return None
        try:
            raw = await redis.get(self.key(version, path_qs))
        except REDIS_ERRORS as exc:
            self.gate.failed(exc)
            return None
        self.gate.succeeded()
        if raw is None:
            return None
        try:
            entry = Entry.load(raw.encode() if isinstance(raw, str) else raw, now)
        except ValueError:  # not an entry of ours: a miss, rebuilt and overwritten
            return None
        return entry if entry.expires > now else None

    async def put(self, version: int, path_qs: str, entry: Entry, now: float) -> None:
        redis = self.gate.client()
        ttl = int(entry.expires - now)
        if redis is None or ttl < 1:
            return
        try:
            await redis.set(self.key(version, path_qs), entry.dump(now), ex=ttl)
        except REDIS_ERRORS as exc:
            self.gate.failed(exc)


class PageBytes:
    """An LRU of shells and entries of one cache version, bounded by the bytes of their bodies."""

    def __init__(
        self,
        max_bytes: int,
        lifetime: float,
        failure_lifetime: float,
        registry: CollectorRegistry | None = None,
        shared: SharedBytes | None = None,
    ) -> None:
        #: 0: nothing is kept (every page is rendered, as with the cache off).
        self.max_bytes = max_bytes
        #: The Redis level behind this one (None: memory only).
        self.shared = shared
        #: Seconds a page lives, and a page whose PyPI metadata was missing.
        self.lifetime, self.failure_lifetime = lifetime, min(lifetime, failure_lifetime)
        self.version: int | None = None
        self.size = 0
        self._items: OrderedDict[tuple[str, str], Shell | Entry] = OrderedDict()
        self.requests = Counter(
            metric_name("web", "page_bytes_requests"),
            "Whole-page byte cache lookups of package pages, by result (hit: logged-out bytes in memory; shared: from Redis; shell: a logged-in visit joined to the cached shell; miss; bypass: cache off or version unknown).",
            ["result"],
            registry=registry,
        )
        self.joined = Counter(
            metric_name("web", "page_builds_joined"),
            "Package-page builds a request waited on instead of starting its own (single flight).",
            registry=registry,
        )
        #: Builds of missing shells under way, by (version, page): concurrent misses of one page
        #: (the minute after a day lands) render it once (shared.flight).
        self.flights: SingleFlight[tuple[int | None, str], tuple[Shell, bool]] = SingleFlight(self.joined)

    def __len__(self) -> int:
        return len(self._items)

    def _get(self, version: int, key: tuple[str, str], now: float) -> Shell | Entry | None:
        if version != self.version:
            self.clear()
            self.version = version
            return None
        found = self._items.get(key)
        if found is None:
            return None
        if found.expires <= now:
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return found

    def entry(self, version: int, path_qs: str, now: float) -> Entry | None:
        found = self._get(version, ("entry", path_qs), now)
        return found if isinstance(found, Entry) else None

    def shell(self, version: int, params: str, now: float) -> Shell | None:
        found = self._get(version, ("shell", params), now)
        return found if isinstance(found, Shell) else None

    def put_entry(self, version: int, path_qs: str, entry: Entry) -> None:
        self._put(version, ("entry", path_qs), entry)

    def put_shell(self, version: int, params: str, shell: Shell) -> None:
        self._put(version, ("shell", params), shell)

    def _put(self, version: int, key: tuple[str, str], item: Shell | Entry) -> None:
        if version != self.version or item.size > self.max_bytes:
            return  # built under a version replaced meanwhile, or larger than the whole cache
        if key in self._items:
            self._drop(key)
        self._items[key] = item
        self.size += item.size
        while self.size > self.max_bytes:
            oldest = next(iter(self._items))
            self._drop(oldest)

    def _drop(self, key: tuple[str, str]) -> None:
        item = self._items.pop(key)
        self.size -= item.size

    def clear(self) -> None:
        self._items.clear()
        self.size = 0


#: Where the web app keeps its :class:`PageBytes`.
PAGE_BYTES = web.AppKey("page_bytes", PageBytes)
