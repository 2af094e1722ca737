"""Static files: our own CSS, JS and icon and the vendored Plotly.js bundle, compressed, from memory.

Owns which files are served (:data:`SOURCES`; no path from a request reaches the file system),
their content-hashed URLs ``/static/<hash>/<name>`` with year-long immutable caching (a repeat
visit fetches none of them), and their pre-compressed variants: brotli and gzip are built once per
process when the app is created, and each request gets the smallest variant its
``Accept-Encoding`` allows (``Vary: Accept-Encoding``). A URL without a hash, or with the hash of
another release (a page rendered by an older pod during a rolling upgrade), still gets the
current file, but with ``Cache-Control: no-cache`` so no browser keeps it under that URL.
``/favicon.ico`` (asked for by browsers and feed readers that ignore ``<link rel=icon>``) is the
site icon too; its URL carries no version, so it is cached for a day only.

The Plotly bundle is Plotly.js's "basic" partial bundle (scatter, bar, pie): see
``static/vendor/README.md`` for its version, licence and how to update it.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import brotli
from aiohttp import web

HERE = Path(__file__).parent / "static"
SOURCES: dict[str, Path] = {
    "app.css": HERE / "app.css",
    "app.js": HERE / "app.js",
    "trends.js": HERE / "trends.js",
    "suggest.js": HERE / "suggest.js",
    "badges.js": HERE / "badges.js",
    "favicon.svg": HERE / "favicon.svg",
    "plotly-basic.min.js": HERE / "vendor" / "plotly-basic.min.js",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
FAVICON = "favicon.svg"
FAVICON_CACHE = "public, max-age=86400"
#: Brotli's best quality takes ~2 s on the 1.2 MB Plotly bundle; above this size quality 9
#: (0.1 s, ~8 % larger) keeps the start of a web process fast.
BROTLI_MAX_QUALITY_BYTES = 256 * 1024
#: Codings we can send, best first.
CODINGS = ("br", "gzip")


@dataclass(frozen=True)
class Asset:
    content_type: str
    version: str
    #: The body per content coding: always "identity", plus "br"/"gzip" when they are smaller.
    bodies: Mapping[str, bytes]


def compress(body: bytes) -> dict[str, bytes]:
    """The identity body and its brotli and gzip forms (each kept only when it is smaller)."""
    quality = 11 if len(body) <= BROTLI_MAX_QUALITY_BYTES else 9
    variants = {
        "br": brotli.compress(body, quality=quality, mode=brotli.MODE_TEXT),
        "gzip": gzip.compress(body, compresslevel=9, mtime=0),
    }
    return {"identity": body} | {k: v for k, v in variants.items() if len(v) < len(body)}


def build(name: str, body: bytes) -> Asset:
    return Asset(CONTENT_TYPES[Path(name).suffix], hashlib.sha256(body).hexdigest()[:16], compress(body))


@functools.cache
def load_assets() -> dict[str, Asset]:
    """Read and compress every file once per process (files change only with a release)."""
    return {name: build(name, path.read_bytes()) for name, path in SOURCES.items()}


def accepted(header: str) -> dict[str, float]:
    """``Accept-Encoding`` as ``{coding: q}`` (lower-cased; a malformed q counts as 0)."""
    found: dict[str, float] = {}
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        found[coding] = q
    return found


def negotiate(header: str, available: Mapping[str, bytes]) -> str:
    """The coding to send: the best of :data:`CODINGS` the client accepts and we have, else identity."""
    codings = accepted(header)
    wildcard = codings.get("*", 0.0)
    for coding in CODINGS:
        if coding in available and codings.get(coding, wildcard) > 0:
            return coding
    return "identity"


class StaticFiles:
    def __init__(self) -> None:
        self.assets = load_assets()

    def url(self, name: str) -> str:
        return f"/static/{self.assets[name].version}/{name}"


STATIC = web.AppKey("static", StaticFiles)


async def serve(request: web.Request) -> web.Response:
    asset = request.app[STATIC].assets.get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound()
    current = request.match_info.get("version") == asset.version
    return respond(request, asset, IMMUTABLE if current else REVALIDATE)


async def favicon(request: web.Request) -> web.Response:
    return respond(request, request.app[STATIC].assets[FAVICON], FAVICON_CACHE)


def respond(request: web.Request, asset: Asset, cache_control: str) -> web.Response:
    """``asset`` in the coding the request accepts best; a 304 when its ETag matches."""
    coding = negotiate(request.headers.get("Accept-Encoding", ""), asset.bodies)
    etag = f'"{asset.version}-{coding}"'
    headers = {
        "Cache-Control": cache_control,
        "Content-Type": asset.content_type,
        "ETag": etag,
        "Vary": "Accept-Encoding",
    }
    if coding != "identity":
        headers["Content-Encoding"] = coding
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.bodies[coding], headers=headers)
