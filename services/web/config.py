"""Settings of the web service (env var = upper-cased field name).

Owns the knobs of the HTML site: its port, where PyPI's JSON API lives and how long to wait for it,
and how long rendered fragments and PyPI metadata stay in Redis. Built in ``main()``, never at
import time.
"""

from __future__ import annotations

from pydantic import Field

from shared.config import ReadReplicaSettings, SessionSettings


class WebSettings(SessionSettings, ReadReplicaSettings):
    """Web configuration on top of the common service, session and read-replica settings."""

    port: int = Field(8080, ge=0, le=65535, description="Port of the web site.")
    pypi_url: str = Field(
        "https://pypi.org",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Base URL of PyPI's JSON API; package metadata is read from {PYPI_URL}/pypi/<name>/json.",
    )
    pypi_timeout: float = Field(
        2.0,
        gt=0,
        le=30,
        description="Seconds to wait for PyPI before rendering a package page without metadata.",
    )
    pypi_cache_ttl: int = Field(
        3600,
        ge=0,
        le=7 * 86400,
        description="Seconds PyPI metadata (and a 404 from PyPI) stays cached in Redis.",
    )
    cache_version_refresh_seconds: float = Field(
        1.0,
        ge=0.05,
        le=3600,
        description="How often each replica re-reads the cache version from Redis. rollups.updated makes a replica re-read it at once; this timer is the fallback while NATS is away.",
    )
    page_cache_ttl: int = Field(
        3600,
        ge=0,
        le=7 * 86400,
        description="Seconds a rendered page fragment stays cached in Redis (a cache-version bump drops it sooner).",
    )
    page_local_cache_mb: int = Field(
        64,
        ge=0,
        le=16384,
        description="Megabytes of whole package pages (final bytes and their ETags) each web worker keeps in memory, dropped when the cache version changes; 0 turns it off. Pages live at most min(PAGE_CACHE_TTL, PYPI_CACHE_TTL) seconds, a minute when PyPI metadata was missing.",
    )
