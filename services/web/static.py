"""Static files: our own CSS and JS, and Plotly.js from the installed ``plotly`` wheel.

Owns the versioned URLs (``/static/<file>?v=<content hash>``) and their long-lived cache headers,
so browsers fetch each file once per release, and no page needs a CDN. Only the files listed in
:class:`StaticFiles` are served, so no path from a request reaches the file system.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import plotly
from aiohttp import web

HERE = Path(__file__).parent
IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


def plotly_js() -> Path:
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class StaticFiles:
    def __init__(self) -> None:
        self.files: dict[str, Path] = {
            "app.js": HERE / "static" / "app.js",
            "app.css": HERE / "static" / "app.css",
            "plotly.min.js": plotly_js(),
        }
        self.versions = {name: _digest(path) for name, path in self.files.items()}

    def url(self, name: str) -> str:
        return f"/static/{name}?v={self.versions[name]}"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


STATIC = web.AppKey("static", StaticFiles)


async def serve(request: web.Request) -> web.StreamResponse:
    files = request.app[STATIC]
    name = request.match_info["file"]
    path = files.files.get(name)
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(
        path,
        headers={"Cache-Control": IMMUTABLE, "Content-Type": CONTENT_TYPES[path.suffix]},
    )
