"""Rate limiting per client address, shared by every API replica through Redis.

Owns who the client is (:func:`client_address`: the socket peer, or the address that many hops from
the right of ``X-Forwarded-For`` when ``TRUSTED_PROXY_COUNT`` proxies sit in front; IPv6 clients
are counted per /64, since one host usually owns a whole /64), which limit applies
(``RATE_LIMIT_OVERRIDES``, most specific network first, 0 = unlimited) and the counting: a fixed
window per address, incremented and given its expiry atomically by one Lua script. When Redis is
down the limiter fails open (every request allowed) rather than turning an outage into errors.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from prometheus_client import Counter

from services.api.cache import RedisGate
from services.api.config import Network
from shared.cache import CacheKeys

# KEYS[1] = the address's counter; ARGV[1] = window seconds. Returns {count, seconds to reset}.
HIT_LUA = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


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


class RateLimiter:
    """Counts requests per client address in Redis; fails open when Redis is down."""

    def __init__(
        self,
        gate: RedisGate,
        keys: CacheKeys,
        default_limit: int,
        window: int,
        overrides: list[tuple[Network, int]],
        limited: Counter,
    ) -> None:
        self.gate, self.keys = gate, keys
        self.default_limit, self.window, self.overrides = default_limit, window, overrides
        self.limited = limited
        self._hit = gate.redis.register_script(HIT_LUA) if gate.redis is not None else None

    async def check(self, client: str) -> Decision:
        limit = limit_for(client, self.default_limit, self.overrides)
        if limit == 0:
            return Decision(True, 0, 0, 0)
        fail_open = Decision(True, limit, limit, self.window - int(time.time()) % self.window)
        redis = self.gate.client()
        if redis is None or self._hit is None:
            return fail_open
        try:
            count, ttl = await self._hit(keys=[self.keys.key("ratelimit", client)], args=[self.window])
        except Exception as exc:  # any Redis trouble: let the request through
            self.gate.failed(exc)
            return fail_open
        self.gate.succeeded()
        count, ttl = int(count), max(int(ttl), 0)
        if count > limit:
            self.limited.inc()
            return Decision(False, limit, 0, ttl)
        return Decision(True, limit, limit - count, ttl)
