"""The discovery endpoint's part of the OpenAPI document (shared/openapi.py puts it in).

Owns how ``/api/trending`` and its parameters (``list``, ``dimension``, ``category``, ``order``,
``limit``) and its answer are documented; what the lists mean is shared.discovery's.
"""

from __future__ import annotations

from typing import Any

from shared import discovery

_COUNT = {"type": "integer", "minimum": 0}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def trending_path(ok: dict[str, Any], standard: dict[str, Any]) -> dict[str, Any]:
    """The path item of ``/api/trending``: ``ok`` is its 200 response, ``standard`` the others."""
    return {
        "get": {
            "operationId": "get_trending",
            "tags": ["site"],
            "summary": "Trending, new and rising, and top packages by a dimension's category",
            "description": "Lists computed when a day completes. `trending`: "
            + discovery.METHODS["trending"]
            + " `new`: "
            + discovery.METHODS["new"]
            + " `top`: "
            + discovery.METHODS["top"],
            "parameters": [
                _query(
                    "list",
                    "Which list: `trending` (the default), `new` or `top`.",
                    {"type": "string", "enum": list(discovery.LISTS)},
                ),
                _query(
                    "dimension",
                    "For `list=top` only, and required there: the dimension of the category.",
                    {"type": "string", "enum": list(discovery.DIMENSIONS)},
                ),
                _query(
                    "category",
                    "For `list=top` only, and required there: the category as logged (`uv`, `3.12`, "
                    "`Linux`, `bdist_wheel`, `US`, `true`). The answer's `categories` lists those "
                    "with a list; another valid one answers an empty list.",
                    {"type": "string", "minLength": 1, "maxLength": 128},
                ),
                _query(
                    "order",
                    "For `list=top` only: rank by the category's `downloads` (the default) or by its "
                    "`share` of the package's downloads.",
                    {"type": "string", "enum": list(discovery.ORDERS)},
                ),
                _query(
                    "limit",
                    f"How many packages, 1 to {discovery.LIST_SIZE} (default 20).",
                    {"type": "integer", "minimum": 1, "maximum": discovery.LIST_SIZE},
                ),
            ],
            "responses": {"200": ok, **standard},
        }
    }


def trending_schema() -> dict[str, Any]:
    """The ``TrendingResponse`` schema."""
    entry = {
        "type": "object",
        "required": ["package", "rank"],
        "additionalProperties": False,
        "properties": {
            "package": {"type": "string"},
            "rank": {"type": "integer", "minimum": 1},
            "downloads_earlier": _COUNT,
            "downloads_recent": _COUNT,
            "growth": {"type": "number", "description": "Relative growth: 1.0 is twice as many."},
            "ci_earlier": _COUNT,
            "ci_recent": _COUNT,
            "first_day": {"type": "string", "format": "date"},
            "downloads": _COUNT,
            "total": _COUNT,
            "share": {"type": "number", "minimum": 0, "maximum": 1},
        },
    }
    return {
        "type": "object",
        "required": ["data", "day", "limit", "list", "method", "type"],
        "additionalProperties": False,
        "properties": {
            "data": {"type": "array", "items": entry},
            "day": {
                "type": ["string", "null"],
                "format": "date",
                "description": "The last complete day the lists were computed on (null: none yet).",
            },
            "limit": {"type": "integer", "minimum": 1, "maximum": discovery.LIST_SIZE},
            "list": {"type": "string", "enum": list(discovery.LISTS)},
            "method": {"type": "string", "description": "How the list is made, in plain words."},
            "dimension": {"type": "string", "enum": list(discovery.DIMENSIONS)},
            "category": {"type": "string"},
            "order": {"type": "string", "enum": list(discovery.ORDERS)},
            "categories": {"type": "array", "items": {"type": "string"}},
            "type": {"const": "trending"},
        },
    }
