"""The bulk exports' endpoints: ``/api/exports`` (the index) and ``/api/exports/{file}``.

Owns serving what the aggregator writes into ``EXPORT_DIR`` (shared/exports.py). The index lists
every day's files newest first with their size, SHA-256, ETag and URL; it is rebuilt when the
directory changes (its modification time: every file lands by a rename into it) and answered
with an ETag of its body and a 304 for a matching ``If-None-Match``. A file is served by aiohttp's
``FileResponse`` (sendfile, ``Range`` requests as DuckDB's httpfs makes them, a strong ETag of
modification time and size, 304); the name is parsed into a day and a format *before* any path
is built, so nothing but ``EXPORT_DIR/YYYY-MM-DD.parquet|csv.gz`` can ever be read: a malformed
name is 400, a day without an export 404, both JSON.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiohttp import web

from services.api.cache import Entry
from services.api.views import JSON, STATE, answer, dumps
from shared.exports import MEDIA_TYPES, BadExportName, IndexEntry, file_name, parse_name, scan_index
from shared.web import json_error

PREFIX: Final = "/api/exports"
#: A day's file changes only when the day is re-completed (a late re-ingest): caches keep it an
#: hour, then revalidate with its ETag.
FILE_CACHE_CONTROL: Final = "public, max-age=3600"


@dataclass
class Exports:
    """Where the exports are (None: not configured) and the index last built, by directory mtime."""

    directory: Path | None
    memo: tuple[int, Entry] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


EXPORTS = web.AppKey("api_exports", Exports)


def index_body(entries: list[IndexEntry]) -> bytes:
    data = [
        {
            "bytes": e.bytes,
            "completed_at": e.completed_at,
            "day": e.day,
            "etag": e.etag,
            "format": e.format,
            "packages": e.packages,
            "rows": e.rows,
            "sha256": e.sha256,
            "url": f"{PREFIX}/{e.name}",
        }
        for e in entries
    ]
    return dumps({"data": data, "type": "exports"})


async def _index_entry(exports: Exports) -> Entry:
    if exports.directory is None:
        return Entry.build(index_body([]), JSON, None)
    try:
        stamp = (await asyncio.to_thread(os.stat, exports.directory)).st_mtime_ns
    except FileNotFoundError:
        return Entry.build(index_body([]), JSON, None)
    async with exports.lock:
        if exports.memo is None or exports.memo[0] != stamp:
            entries = await asyncio.to_thread(scan_index, exports.directory)
            newest = entries[0].day if entries else None
            exports.memo = (stamp, Entry.build(index_body(entries), JSON, newest))
        return exports.memo[1]


async def index(request: web.Request) -> web.StreamResponse:
    """Every exported day's files, newest first."""
    entry = await _index_entry(request.app[EXPORTS])
    return answer(request, entry, request.app[STATE])


async def export_file(request: web.Request) -> web.StreamResponse:
    """One day's file in one format."""
    try:
        day, fmt = parse_name(request.match_info["file"])
    except BadExportName as exc:
        return json_error(400, str(exc), "file")
    directory = request.app[EXPORTS].directory
    path = directory / file_name(day, fmt) if directory is not None else None
    if path is None or not await asyncio.to_thread(path.is_file):
        return json_error(404, f"no {fmt} export of {day.isoformat()}", "file")
    headers = {"Cache-Control": FILE_CACHE_CONTROL, "Content-Type": MEDIA_TYPES[fmt]}
    return web.FileResponse(path, headers=headers)
