"""The bulk exports' part of the OpenAPI document (shared/openapi.py puts it in).

Owns how ``/api/exports`` (the index) and ``/api/exports/{file}`` (a day's Parquet or
gzip-compressed CSV, shared/exports.py) are documented, and the index's schema.
"""

from __future__ import annotations

from typing import Any

from shared.exports import COLUMNS, MEDIA_TYPES

FILE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\.(parquet|csv\.gz)$"


def exports_schema() -> dict[str, Any]:
    entry = {
        "type": "object",
        "required": ["bytes", "completed_at", "day", "etag", "format", "packages", "rows", "sha256", "url"],
        "additionalProperties": False,
        "properties": {
            "day": {"type": "string", "format": "date"},
            "format": {"type": "string", "enum": list(MEDIA_TYPES)},
            "bytes": {"type": "integer", "minimum": 0},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "etag": {"type": "string", "description": "The file's ETag, as its answer sends it."},
            "url": {"type": "string", "description": "The file's path on this API."},
            "rows": {"type": "integer", "minimum": 0},
            "packages": {"type": "integer", "minimum": 0},
            "completed_at": {"type": "string", "format": "date-time"},
        },
    }
    return {
        "type": "object",
        "required": ["data", "type"],
        "additionalProperties": False,
        "properties": {"type": {"const": "exports"}, "data": {"type": "array", "items": entry}},
    }


def export_paths(
    cache_headers: dict[str, Any],
    index_ok: dict[str, Any],
    standard: dict[str, Any],
    not_found: dict[str, Any],
) -> dict[str, Any]:
    """The two paths; ``index_ok`` is the index's 200 answer, ``standard`` the 304/400/429 ones."""
    columns = ", ".join(f"`{c}`" for c in COLUMNS)
    return {
        "/api/exports": {
            "get": {
                "operationId": "get_exports",
                "tags": ["exports"],
                "summary": "Bulk exports: the index",
                "description": "Every complete day exported as Parquet and as gzip-compressed CSV, newest "
                "first, with each file's size, SHA-256, ETag and URL. Empty when the operator exports nothing.",
                "responses": {"200": index_ok, **standard},
            }
        },
        "/api/exports/{file}": {
            "get": {
                "operationId": "get_export_file",
                "tags": ["exports"],
                "summary": "Bulk exports: one day's file",
                "description": f"Every package's every count of one complete day in long format ({columns}; "
                "`overall` has the categories `with_mirrors`, `without_mirrors` and `people`), only non-zero "
                "counts, sorted by package, dimension and category; `__all__` (the sum of the packages) is "
                "left out. `Range` requests are answered (DuckDB reads Parquet over HTTP with them). "
                "A day is rewritten only when it is re-ingested.",
                "parameters": [
                    {
                        "name": "file",
                        "in": "path",
                        "required": True,
                        "description": "`YYYY-MM-DD.parquet` or `YYYY-MM-DD.csv.gz`.",
                        "schema": {"type": "string", "pattern": FILE_PATTERN, "maxLength": 20},
                        "example": "2026-12-01.parquet",
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The file.",
                        "headers": cache_headers,
                        "content": {
                            t: {"schema": {"type": "string", "format": "binary"}}
                            for t in MEDIA_TYPES.values()
                        },
                    },
                    "206": {
                        "description": "The part of the file a `Range` header asked for.",
                        "headers": cache_headers,
                        "content": {
                            t: {"schema": {"type": "string", "format": "binary"}}
                            for t in MEDIA_TYPES.values()
                        },
                    },
                    **{code: standard[code] for code in sorted(standard) if code < "404"},
                    "404": not_found,
                    "416": {"description": "A `Range` outside the file."},
                    **{code: standard[code] for code in sorted(standard) if code > "404"},
                },
            }
        },
    }
