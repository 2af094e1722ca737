"""PyPI metadata for package pages: a pure parser and a client cached in Redis.

Owns what the package header shows (summary, latest version, licence, author, links, required and
optional dependencies), the upload times of its releases (the charts' release markers) and how
it is fetched: ``GET {PYPI_URL}/pypi/<name>/json`` with a short
timeout. Answers are cached in Redis (a 404 too); a timeout or an error yields ``None`` (cached
briefly, so an unreachable PyPI does not slow every page) and the page renders without metadata.
Redis being down only means no caching (the web service's shared.redis_gate.RedisGate decides
when to skip it).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

from shared.cache import CacheKeys
from shared.logging import get_logger
from shared.packages import normalize
from shared.redis_gate import REDIS_ERRORS, RedisGate

log = get_logger(__name__)

#: How long a failed fetch (timeout, 5xx, bad body) is remembered before PyPI is asked again.
FAILURE_TTL_S = 60
MAX_BODY_BYTES = 16 * 1024 * 1024  # the JSON of a project with thousands of releases (boto3) is large
#: Releases kept per project (the newest): the charts mark releases of the kept history only.
MAX_RELEASES = 1000
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")
_SAFE_URL = re.compile(r"^https?://", re.IGNORECASE)


@dataclass(frozen=True)
class Metadata:
    summary: str | None = None
    version: str | None = None
    license: str | None = None
    author: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    optional: dict[str, list[str]] = field(default_factory=dict)
    #: ``(version, first upload time as ISO 8601 UTC)`` of each release, oldest first: the
    #: release markers of the charts (:func:`parse_releases`).
    releases: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Metadata:
        data = json.loads(raw)
        return cls(
            summary=data.get("summary"),
            version=data.get("version"),
            license=data.get("license"),
            author=data.get("author"),
            links=[(str(a), str(b)) for a, b in data.get("links", [])],
            requires=list(data.get("requires", [])),
            optional={k: list(v) for k, v in data.get("optional", {}).items()},
            releases=[(str(v), str(t)) for v, t in data.get("releases", [])],
        )


def _text(value: Any, limit: int = 300) -> str | None:
    if not isinstance(value, str):
        return None
    text: str = " ".join(value.split())
    if not text or text.upper() == "UNKNOWN":
        return None
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def parse_releases(releases: Any) -> list[tuple[str, str]]:
    """``(version, time)`` of each release of a PyPI JSON body's ``releases``, oldest first: the
    earliest ``upload_time_iso_8601`` of its files that are not yanked (a release without one is
    left out), normalised to ``YYYY-MM-DDTHH:MM:SSZ``; the newest :data:`MAX_RELEASES` only."""
    if not isinstance(releases, dict):
        return []
    out: list[tuple[str, str]] = []
    for version, files in releases.items():
        if not isinstance(version, str) or len(version) > 128 or not isinstance(files, list):
            continue
        times = []
        for f in files:
            if not isinstance(f, dict) or f.get("yanked") is True:
                continue
            found = _time(f.get("upload_time_iso_8601"))
            if found is not None:
                times.append(found)
        if times:
            out.append((min(times), version))
    out.sort()
    return [(version, when) for when, version in out[-MAX_RELEASES:]]


def _time(value: Any) -> str | None:
    """An upload time as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), or None when it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_metadata(body: Any) -> Metadata:
    """Metadata from a PyPI JSON body; unknown or malformed fields are left out, never raise."""
    info = body.get("info") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        return Metadata()
    links: list[tuple[str, str]] = []
    urls = info.get("project_urls")
    candidates = list(urls.items()) if isinstance(urls, dict) else []
    if isinstance(info.get("home_page"), str):
        candidates.insert(0, ("Homepage", info["home_page"]))
    seen: set[str] = set()
    for name, url in candidates:
        if isinstance(name, str) and isinstance(url, str) and _SAFE_URL.match(url) and url not in seen:
            seen.add(url)
            links.append((_text(name, 60) or "link", url[:500]))
    requires: list[str] = []
    optional: dict[str, list[str]] = {}
    for spec in info.get("requires_dist") or []:
        if not isinstance(spec, str) or not (m := _REQ_NAME.match(spec)):
            continue
        name = normalize(m.group(1))
        marker = spec.split(";", 1)[1] if ";" in spec else ""
        extra = _EXTRA.search(marker)
        target = optional.setdefault(extra.group(1), []) if extra else requires
        if name not in target:
            target.append(name)
    license_text = _text(info.get("license_expression")) or _text(info.get("license"), 80)
    return Metadata(
        summary=_text(info.get("summary")),
        version=_text(info.get("version"), 60),
        license=license_text,
        author=_text(info.get("author")) or _text(info.get("author_email")),
        links=links[:12],
        requires=requires,
        optional=optional,
        releases=parse_releases(body.get("releases")),
    )


class PyPIClient:
    """Fetches and caches metadata; ``get`` never raises for PyPI or Redis trouble."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        timeout: float,
        gate: RedisGate,
        keys: CacheKeys,
        ttl: int,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.gate = gate
        self.keys = keys
        self.ttl = ttl

    def _key(self, package: str) -> str:
        return self.keys.key("web", "pypi", package)

    async def get(self, package: str) -> Metadata | None:
        cached = await self._cached(package)
        if cached is not None:
            return None if cached == b"" else Metadata.from_json(cached)
        meta, ttl = await self._fetch(package)
        await self._store(package, meta.to_json() if meta else "", ttl)
        return meta

    async def _cached(self, package: str) -> bytes | None:
        redis = self.gate.client() if self.ttl else None
        if redis is None:
            return None
        try:
            value = await redis.get(self._key(package))
        except REDIS_ERRORS as exc:
            self.gate.failed(exc)
            return None
        self.gate.succeeded()
        return value.encode() if isinstance(value, str) else value

    async def _store(self, package: str, value: str, ttl: int) -> None:
        redis = self.gate.client() if ttl > 0 else None
        if redis is None:
            return
        try:
            await redis.set(self._key(package), value, ex=ttl)
        except REDIS_ERRORS as exc:
            self.gate.failed(exc)

    async def _fetch(self, package: str) -> tuple[Metadata | None, int]:
        """The metadata (None when PyPI has no such project or failed) and how long to cache that."""
        url = f"{self.base_url}/pypi/{quote(package, safe='')}/json"
        try:
            async with self.session.get(url, timeout=self.timeout, allow_redirects=True) as response:
                if response.status == 404:
                    return None, self.ttl
                if response.status != 200:
                    log.warning("pypi answered an error", package=package, status=response.status)
                    return None, min(FAILURE_TTL_S, self.ttl)
                raw = bytearray()  # read(n) may answer a part of the body: read it whole
                async for chunk in response.content.iter_chunked(64 * 1024):
                    raw += chunk
                    if len(raw) > MAX_BODY_BYTES:
                        raise ValueError("body too large")
                return parse_metadata(json.loads(raw)), self.ttl
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("pypi metadata unavailable", package=package, error=type(exc).__name__)
            return None, min(FAILURE_TTL_S, self.ttl)
