"""The badge endpoints' part of the OpenAPI document (shared/openapi.py puts it in).

Owns how ``badge.svg`` and ``shields.json`` and their parameters are documented: ``period``,
``who``, ``version``, ``units``, ``style``, ``label``, ``label_color``, ``color`` and ``metric``,
and that every failure is still a badge (an SVG with its status; for shields.io a 200 with
``isError``). The values mirror services.api.badge_params, which a unit test compares.
"""

from __future__ import annotations

from typing import Any

BADGE_PERIODS = ["day", "week", "month", "year", "total"]
STYLES = ["flat", "flat-square", "plastic", "for-the-badge", "social"]
UNITS = ["compact", "full", "none"]
_COLOR = {"type": "string", "maxLength": 32}
_SVG = {"image/svg+xml": {"schema": {"type": "string"}}}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def badge_parameters() -> list[dict[str, Any]]:
    return [
        _query(
            "period",
            "Downloads of the last `day`, `week`, `month` (the default: the last 30 days) or `year` "
            "(365 days) ending on the last complete day, or `total` (every day on record).",
            {"type": "string", "enum": BADGE_PERIODS},
        ),
        _query(
            "who",
            "`people`: only downloads by people and their projects (the overall category `people`: "
            "no mirrors, no CI, only the installers people run). Without it: downloads without mirrors.",
            {"type": "string", "enum": ["all", "people"]},
        ),
        _query(
            "version",
            "Only downloads of this version as logged (`2.31.0`), or of every version starting with a "
            "prefix (`2.*`). Not with `who=people`.",
            {"type": "string", "minLength": 1, "maxLength": 128},
        ),
        _query(
            "units",
            "`compact` (`1.2M`, the default), `full` (`1,234,567`) or `none` (`1234567`).",
            {"type": "string", "enum": UNITS},
        ),
        _query("style", "shields.io's styles; `flat` is the default.", {"type": "string", "enum": STYLES}),
        _query(
            "label",
            "The left text; by default it names the count and its period (`downloads/month`); empty: no label.",
            {"type": "string", "maxLength": 64},
        ),
        _query("label_color", "The label's colour: a shields.io name (`grey`) or hex (`555`).", _COLOR),
        _query("color", "The message's colour: a shields.io name (`blue`, the default) or hex.", _COLOR),
        _query(
            "metric",
            "`downloads` (the default) or `rank`: the package's rank by last month's downloads (by "
            "people with `who=people`) and its percentile, e.g. `#12 · top 1%`.",
            {"type": "string", "enum": ["downloads", "rank"]},
        ),
    ]


def _svg(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": _SVG}
    if headers:
        out["headers"] = headers
    return out


def badge_paths(
    package: dict[str, Any], cache_headers: dict[str, Any], shields_ok: dict[str, Any]
) -> dict[str, Any]:
    """The two badge paths; ``package`` is the path parameter, ``shields_ok`` the shields 200."""
    parameters = [package, *badge_parameters()]
    return {
        "/api/packages/{package}/badge.svg": {
            "get": {
                "operationId": "get_badge",
                "tags": ["badges"],
                "summary": "An SVG badge of downloads, by people, of a version, or the rank",
                "description": "A small SVG image such as `downloads/month | 1.2k`, to put in a README, "
                "as wide as shields.io draws the same text. Cached by CDNs until the next day is "
                "expected (`stale-while-revalidate`, `stale-if-error`). Its rate limit is its own. "
                "Every failure is still an image: `package not found` (404), `bad <parameter>` (400), "
                "`rate limited` (429), `unavailable` (503).",
                "parameters": parameters,
                "responses": {
                    "200": _svg("The badge.", cache_headers),
                    "304": {
                        "description": "Not modified: the `ETag` still matches.",
                        "headers": cache_headers,
                    },
                    "400": _svg("A parameter is not allowed: the badge `bad <parameter>`."),
                    "404": _svg("No such package: the badge `package not found`."),
                    "429": _svg(
                        "Too many badge requests from this address: the badge `rate limited`.",
                        {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                    ),
                    "503": _svg("The store is unavailable: the badge `unavailable`."),
                },
            }
        },
        "/api/packages/{package}/shields.json": {
            "get": {
                "operationId": "get_shields",
                "tags": ["badges"],
                "summary": "A shields.io endpoint badge",
                "description": "The JSON document shields.io's endpoint badge reads "
                "(`https://img.shields.io/endpoint?url=...`), with the same parameters as `badge.svg`. "
                "Every failure (unknown package, bad parameter, rate limit, outage) is a 200 with "
                "`isError: true` and the reason as the message: shields.io reads no body of an error status.",
                "parameters": parameters,
                "responses": {
                    "200": shields_ok,
                    "304": {
                        "description": "Not modified: the `ETag` still matches.",
                        "headers": cache_headers,
                    },
                },
            }
        },
    }


def shields_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["color", "label", "message", "schemaVersion"],
        "additionalProperties": False,
        "properties": {
            "schemaVersion": {"const": 1},
            "label": {"type": "string"},
            "message": {"type": "string"},
            "color": {"type": "string"},
            "labelColor": {"type": "string"},
            "style": {"type": "string", "enum": STYLES},
            "isError": {
                "type": "boolean",
                "description": "Present (true) for a failure: shields.io draws it as an error.",
            },
        },
    }
