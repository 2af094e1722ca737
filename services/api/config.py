"""Settings of the api service (env var = upper-cased field name).

Owns the knobs of the JSON API: its port, the body cache (in memory and in Redis), where it reads
from (``READ_DATABASE_URL``, inherited from shared.config), the expected daily update time that bounds ``Cache-Control``, and the rate limits (window, default limit, trusted proxies,
per-address/CIDR overrides; badges have limits of their own) and how long a shutdown lets running requests finish. Built in
``main()``, never at import time.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import TypeAlias

from pydantic import Field, field_validator

from shared.config import ReadReplicaSettings
from shared.exports import EXPORT_DIR_DESCRIPTION

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_overrides(text: str) -> list[tuple[Network, int]]:
    """``"203.0.113.7=100000,10.0.0.0/8=0"`` -> networks with their limit (0 = unlimited), most specific first."""
    out: list[tuple[Network, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        address, sep, limit = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not ADDRESS=LIMIT")
        try:
            network = ipaddress.ip_network(address.strip(), strict=False)
        except ValueError:
            raise ValueError(f"override {item!r}: {address.strip()!r} is not an address or CIDR") from None
        if not limit.strip().isdigit():
            raise ValueError(f"override {item!r}: limit must be a whole number >= 0 (0 = unlimited)")
        out.append((network, int(limit)))
    return sorted(out, key=lambda pair: -pair[0].prefixlen)


class ApiSettings(ReadReplicaSettings):
    """API configuration on top of the common service settings."""

    port: int = Field(8081, ge=0, le=65535, description="HTTP port of the API.")
    export_dir: Path | None = Field(None, description=EXPORT_DIR_DESCRIPTION)
    db_pool_size: int = Field(10, ge=1, le=100, description="PostgreSQL connections held by one API process.")
    cache_ttl_seconds: int = Field(
        600,
        ge=0,
        le=86400,
        description="Seconds a response body stays in the Redis cache (0 disables it); a cache-version bump invalidates earlier.",
    )
    cache_version_refresh_seconds: float = Field(
        1.0,
        ge=0.05,
        le=3600,
        description="How often each replica re-reads the cache version from Redis. rollups.updated makes a replica re-read it at once; this timer is the fallback while NATS is away.",
    )
    cache_stale_seconds: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="For this long after a new day lands (a cache-version bump), a body of the day before still in memory is answered at once while its new one is built in the background; 0 (the default): the next answer after a completed day shows it, every request waiting for its new body.",
    )
    local_cache_mb: int = Field(
        64,
        ge=0,
        le=65536,
        description="Megabytes of response bodies each replica keeps in memory in front of the Redis cache (0 = Redis only).",
    )
    update_time_utc: str = Field(
        "01:30",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="UTC time (HH:MM) by which the day after the last complete day is expected to be loaded; Cache-Control max-age runs until then.",
    )
    min_max_age_seconds: int = Field(
        300,
        ge=0,
        le=86400,
        description="Cache-Control max-age when the next update is already overdue (or no day is complete yet).",
    )
    rate_limit_requests: int = Field(
        1200,
        ge=0,
        description="Requests per window and client address (0 = unlimited).",
    )
    rate_limit_window_seconds: int = Field(60, ge=1, le=86400, description="Length of the rate-limit window.")
    badge_rate_limit_requests: int = Field(
        12000,
        ge=0,
        description="Badge requests (badge.svg, shields.json) per window and client address (0 = unlimited), counted apart from the JSON API's limit: badge services and CDNs ask for many packages from few addresses.",
    )
    badge_rate_limit_overrides: str = Field(
        "",
        description="Per-address or CIDR badge limits, as RATE_LIMIT_OVERRIDES (e.g. a badge service's address=0).",
    )
    trusted_proxy_count: int | None = Field(
        None,
        ge=0,
        le=10,
        description="Reverse proxies in front of the API; the client address is taken that many hops from the right of X-Forwarded-For (0 = the socket peer). Unset means 0 locally and is refused in production, where the operator must say.",
    )
    rate_limit_overrides: str = Field(
        "",
        description="Per-address or CIDR limits, e.g. '203.0.113.7=100000,10.0.0.0/8=0' (0 = unlimited); the most specific match wins.",
    )
    shutdown_timeout_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="On SIGTERM, seconds a request still running may take to finish, and as many again once told to stop, before it is cancelled (aiohttp's shutdown_timeout). The whole shutdown takes at most twice this plus 15 s (background tasks, Redis, the database pool): keep that within the pod's termination grace period (30 s by default).",
    )

    @field_validator("rate_limit_overrides", "badge_rate_limit_overrides")
    @classmethod
    def _valid_overrides(cls, value: str) -> str:
        parse_overrides(value)
        return value

    @property
    def overrides(self) -> list[tuple[Network, int]]:
        return parse_overrides(self.rate_limit_overrides)

    @property
    def badge_overrides(self) -> list[tuple[Network, int]]:
        return parse_overrides(self.badge_rate_limit_overrides)

    @property
    def update_time(self) -> dt.time:
        hours, minutes = self.update_time_utc.split(":")
        return dt.time(int(hours), int(minutes), tzinfo=dt.UTC)

    @property
    def proxy_hops(self) -> int:
        """Trusted proxies in front of the API (unset counts as none outside production)."""
        return self.trusted_proxy_count or 0

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.trusted_proxy_count is None:
            problems.append(
                "TRUSTED_PROXY_COUNT is unset: behind an ingress every client would share the proxy's "
                "rate limit (set the number of proxies, or 0 when clients connect directly)"
            )
        return problems
