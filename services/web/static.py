"""Static files: our own CSS, JS and icon, Plotly.js from the installed ``plotly`` wheel, and Plotly's CSS.

Owns the versioned URLs (``/static/<file>?v=<content hash>``) and their long-lived cache headers,
so browsers fetch each file once per release, and no page needs a CDN. Only the files listed in
:class:`StaticFiles` are served (from memory), so no path from a request reaches the file system.

Plotly.js normally injects its stylesheet as ``<style>`` elements, which our Content-Security-Policy
(``style-src 'self'``) refuses; :func:`plotly_css` therefore extracts that rule table from the
bundle once and we serve it as ``plotly.css`` from our own origin.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import plotly
from aiohttp import web

from shared.logging import get_logger

log = get_logger(__name__)

HERE = Path(__file__).parent
IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: ``/favicon.ico`` (asked for by browsers and feed readers that ignore ``<link rel=icon>``) is the
#: site icon too; its URL carries no version, so it is cached for a day only.
FAVICON = "favicon.svg"
FAVICON_CACHE = "public, max-age=86400"
_RULES_START = '{"X,X div":'
_PLOT = ".js-plotly-plot .plotly"
_NOTIFIER = ".plotly-notifier"


def plotly_js() -> Path:
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _js_string(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    out: list[str] = []
    i += 1
    while text[i] != quote:
        if text[i] == "\\":
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i + 1


def plotly_css(bundle: str) -> str:
    """The CSS rules Plotly.js would inject, read from its ``{"X,X div": ...}`` table; "" if absent."""
    start = bundle.find(_RULES_START)
    if start < 0:
        return ""
    rules: list[str] = []
    i = start + 1
    try:
        while bundle[i] != "}":
            if bundle[i] in "\"'":
                key, i = _js_string(bundle, i)
            else:
                end = bundle.index(":", i)
                key, i = bundle[i:end], end
            if bundle[i] != ":" or bundle[i + 1] not in "\"'":
                return ""
            value, i = _js_string(bundle, i + 1)
            selector = key.replace("X", _PLOT).replace("Y", _NOTIFIER)
            rules.append(f"{selector}{{{value}}}")
            if bundle[i] == ",":
                i += 1
    except (IndexError, ValueError):
        return ""
    return "\n".join(rules) + "\n"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    version: str


def _asset(body: bytes, suffix: str) -> Asset:
    return Asset(body, CONTENT_TYPES[suffix], hashlib.sha256(body).hexdigest()[:16])


@functools.cache
def load_assets() -> dict[str, Asset]:
    """Read once per process (Plotly is ~5 MB); files only change with a new release."""
    bundle = plotly_js().read_bytes()
    css = plotly_css(bundle.decode("utf-8", "replace"))
    if not css:
        log.warning("plotly stylesheet not found in the bundle; charts will look unstyled")
    return {
        "app.js": _asset((HERE / "static" / "app.js").read_bytes(), ".js"),
        "app.css": _asset((HERE / "static" / "app.css").read_bytes(), ".css"),
        FAVICON: _asset((HERE / "static" / FAVICON).read_bytes(), ".svg"),
        "plotly.min.js": _asset(bundle, ".js"),
        "plotly.css": _asset(css.encode(), ".css"),
    }


class StaticFiles:
    def __init__(self) -> None:
        self.assets = load_assets()

    def url(self, name: str) -> str:
        return f"/static/{name}?v={self.assets[name].version}"


STATIC = web.AppKey("static", StaticFiles)


async def serve(request: web.Request) -> web.Response:
    asset = request.app[STATIC].assets.get(request.match_info["file"])
    if asset is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=asset.body,
        headers={
            "Cache-Control": IMMUTABLE,
            "Content-Type": asset.content_type,
            "ETag": f'"{asset.version}"',
        },
    )


async def favicon(request: web.Request) -> web.Response:
    asset = request.app[STATIC].assets[FAVICON]
    return web.Response(
        body=asset.body,
        headers={
            "Cache-Control": FAVICON_CACHE,
            "Content-Type": asset.content_type,
            "ETag": f'"{asset.version}"',
        },
    )
