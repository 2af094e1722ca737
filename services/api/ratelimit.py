"""Rate limiting per client address, shared by every API replica through Redis.

Owns who the client is (:func:`client_address`: the socket peer, or the address that many hops from
the right of ``X-Forwarded-For`` when ``TRUSTED_PROXY_COUNT`` proxies sit in front; IPv6 clients
are counted per /64, since one host usually owns a whole /64), which limit applies
(``RATE_LIMIT_OVERRIDES``, most specific network first, 0 = unlimited) and the counting. Badges
are counted by a second limiter of their own (``scope`` ``ratelimit-badge``, ``BADGE_RATE_LIMIT_*``).

Counting is a fixed window per address in Redis: one counter key that lives one window. A replica
does not ask Redis on every request: it *reserves* a small batch of request numbers with one
``INCRBY`` (a Lua script that also starts the window's expiry), and hands them out locally; each
admitted request holds a distinct number from the shared counter, and a number above the limit is
a refusal. So the limit stays honest across replicas: together they never admit more than the
limit in one window. What a batch can cost is the other way: numbers a replica reserved but did
not use before the window ended are lost, so a client can be refused slightly *early*, by at most
1.5 batches (1.5 % of the limit) per replica.

The batch starts at 1 and doubles with each reservation in the same window, capped at 1 % of the
limit (and :data:`MAX_BATCH`), and never exceeds what the limit has left; a client whose limit is
under 200 is therefore counted one request at a time, exactly. For a batched client the next batch
is reserved in the background once half of the current one is used, so its requests do not wait
on Redis either (hence at most 1.5 batches unused). Once the shared count is past the limit the
replica refuses the address locally until the window ends, without asking Redis again.
``RateLimit-Remaining`` is the limit minus the request's own number (other replicas may have taken
later ones). When Redis is down the limiter fails open (every request allowed) rather than
turning an outage into errors.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import math
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter

from services.api.config import Network
from shared.cache import CacheKeys
from shared.redis_gate import RedisGate
from shared.tasks import stop_task

#: Largest number of requests one replica reserves for one address in one round trip.
MAX_BATCH = 256
#: Addresses whose state one replica keeps before it forgets those whose window has ended.
MAX_TRACKED = 10_000

# KEYS[1] = the address's counter; ARGV[1] = how many numbers to reserve; ARGV[2] = window in ms.
# Returns {the last number reserved, milliseconds until the window ends}.
RESERVE_LUA = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
"""


@functools.lru_cache(maxsize=4096)
def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The client address as a rate-limit identity.

    With ``trusted_proxies`` = N > 0 the N-th entry from the right of ``X-Forwarded-For`` is the
    address the outermost trusted proxy saw; entries further left are client-controlled and ignored.
    A header with fewer entries, or an entry that is not an IP address, falls back to the peer.
    """
    chosen = peer or "unknown"
    if trusted_proxies > 0 and forwarded_for:
        hops = [h.strip() for h in forwarded_for.split(",")]
        if len(hops) >= trusted_proxies:
            chosen = hops[-trusted_proxies]
    try:
        address = ipaddress.ip_address(chosen)
    except ValueError:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def limit_for(client: str, default: int, overrides: list[tuple[Network, int]]) -> int:
    """The first (most specific) override containing ``client``, else ``default``; 0 = unlimited."""
    try:
        network = ipaddress.ip_network(client, strict=False)
    except ValueError:
        return default
    for candidate, limit in overrides:
        if network.version == candidate.version and network.subnet_of(candidate):  # type: ignore[arg-type]
            return limit
    return default


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int  # 0 = unlimited
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        if self.limit == 0:
            return {}
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


UNLIMITED = Decision(True, 0, 0, 0)


@dataclass
class Numbers:
    """Request numbers ``next .. last`` reserved in the window that ends at ``window_end``."""

    next: int
    last: int
    window_end: float


@dataclass
class Allotment:
    """One replica's view of one address's window: the request numbers it reserved and not yet used.

    Pure bookkeeping (times are ``time.monotonic()`` values passed in), so the rules are unit-tested
    without Redis: see the module docstring for why this keeps the limit honest across replicas.
    """

    limit: int
    cap: int
    batch: int = 1
    window_end: float = 0.0  # of the latest reservation's window
    seen: int = 0  # the highest number Redis returned in that window
    ranges: deque[Numbers] = field(default_factory=deque)
    pending: asyncio.Future[None] | None = None

    @staticmethod
    def cap_for(limit: int) -> int:
        return max(1, min(MAX_BATCH, limit // 100))

    def take(self, now: float) -> Decision | None:
        """A decision from the reserved numbers, or None when a reservation is needed first."""
        ranges, limit = self.ranges, self.limit
        while ranges:
            numbers = ranges[0]
            if numbers.next > numbers.last or now >= numbers.window_end:
                ranges.popleft()
                continue
            number = numbers.next
            numbers.next += 1
            reset = max(1, math.ceil(numbers.window_end - now))
            if number <= limit:
                return Decision(True, limit, limit - number, reset)
            ranges.clear()  # every later number is higher still
            return Decision(False, limit, 0, reset)
        if self.seen >= limit and now < self.window_end:  # the shared count is past the limit
            return Decision(False, limit, 0, max(1, math.ceil(self.window_end - now)))
        return None

    def left(self, now: float) -> int:
        return sum(n.last - n.next + 1 for n in self.ranges if now < n.window_end and n.next <= n.last)

    def wants_more(self) -> bool:
        """Whether to reserve the next batch ahead of need (only for limits counted in batches):
        when only the current batch is held and half of it or more is used."""
        if self.cap == 1 or self.pending is not None or self.seen >= self.limit:
            return False
        ranges = self.ranges
        return not ranges or (len(ranges) == 1 and ranges[0].last - ranges[0].next < self.batch // 2)

    def size(self, now: float) -> int:
        """How many numbers to reserve next: grow while one window keeps using them up."""
        if now >= self.window_end:
            self.batch, left = 1, self.limit
        else:
            self.batch, left = min(self.batch * 2, self.cap), self.limit - self.seen
        return max(1, min(self.batch, left))

    def reserved(self, size: int, last: int, ttl_ms: int, now: float) -> None:
        """Record that Redis gave this replica the numbers ``last - size + 1 .. last``."""
        window_end = now + max(ttl_ms, 0) / 1000.0
        if last <= size:  # the counter was fresh: a new window began, older numbers are void
            self.ranges.clear()
        self.ranges.append(Numbers(last - size + 1, last, window_end))
        self.window_end, self.seen = window_end, last


class RateLimiter:
    """Counts requests per client address in Redis in reserved batches; fails open when Redis is down."""

    def __init__(
        self,
        gate: RedisGate,
        keys: CacheKeys,
        default_limit: int,
        window: int,
        overrides: list[tuple[Network, int]],
        limited: Counter,
        scope: str = "ratelimit",
    ) -> None:
        self.gate, self.keys, self.scope = gate, keys, scope
        self.default_limit, self.window, self.overrides = default_limit, window, overrides
        self.limited = limited
        self._reserve = gate.redis.register_script(RESERVE_LUA) if gate.redis is not None else None
        self._limits: dict[str, int] = {}
        self._allotments: dict[str, Allotment] = {}
        self._prefetches: set[asyncio.Task[bool]] = set()

    def limit(self, client: str) -> int:
        found = self._limits.get(client)
        if found is None:
            if len(self._limits) >= MAX_TRACKED:
                self._limits.clear()
            found = self._limits[client] = limit_for(client, self.default_limit, self.overrides)
        return found

    async def check(self, client: str) -> Decision:
        limit = self.limit(client)
        if limit == 0:
            return UNLIMITED
        allotment = self._allotments.get(client)
        if allotment is None:
            allotment = self._track(client, limit)
        while True:
            decision = allotment.take(time.monotonic())
            if decision is None:
                if allotment.pending is not None:  # another request of this address is reserving
                    await asyncio.shield(allotment.pending)
                    continue
                if not await self._reserve_for(client, allotment):
                    return Decision(True, limit, limit, self.window - int(time.time()) % self.window)
                continue
            if not decision.allowed:
                self.limited.inc()
            elif allotment.wants_more() and self._reserve is not None and self.gate.client() is not None:
                task = asyncio.create_task(self._reserve_for(client, allotment))
                self._prefetches.add(task)
                task.add_done_callback(self._prefetches.discard)
            return decision

    async def close(self, timeout: float) -> None:
        """Stop the reservations still running in the background (at shutdown, before Redis closes)."""
        await asyncio.gather(*(stop_task(task, timeout) for task in list(self._prefetches)))

    def _reserve_for(self, client: str, allotment: Allotment) -> Coroutine[Any, Any, bool]:
        """Mark a reservation as pending now (so no other request starts one), and return the
        coroutine that makes it; it returns False when Redis is unusable (the caller fails open)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        allotment.pending = done
        return self._reserve_batch(client, allotment, done)

    async def _reserve_batch(self, client: str, allotment: Allotment, done: asyncio.Future[None]) -> bool:
        try:
            redis = self.gate.client()
            if redis is None or self._reserve is None:
                return False
            size = allotment.size(time.monotonic())
            last, ttl = await self._reserve(
                keys=[self.keys.key(self.scope, client)], args=[size, self.window * 1000]
            )
            allotment.reserved(size, int(last), int(ttl), time.monotonic())
        except Exception as exc:  # any Redis trouble: let the request through
            self.gate.failed(exc)
            return False
        finally:
            allotment.pending = None
            done.set_result(None)
        self.gate.succeeded()
        return True

    def _track(self, client: str, limit: int) -> Allotment:
        if len(self._allotments) >= MAX_TRACKED:
            now = time.monotonic()
            for key in [k for k, a in self._allotments.items() if a.window_end <= now and a.pending is None]:
                del self._allotments[key]
            while len(self._allotments) >= MAX_TRACKED:  # forgetting only costs an extra reservation
                del self._allotments[next(iter(self._allotments))]
        allotment = self._allotments[client] = Allotment(limit, Allotment.cap_for(limit))
        return allotment
