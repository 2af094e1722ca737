"""The OpenAPI 3.1 document of the JSON API.

Owns the one description of every API route, parameter, response body and header. The api service
serves it at ``/api/openapi.json`` (and a test checks that its routes and this document match both
ways); the web service renders its ``/api`` documentation page from it, so summaries and
descriptions are written as prose for people. It lives in ``shared`` because both services read it.
"""

from __future__ import annotations

import copy
from typing import Any

from shared.bins import BINS
from shared.config import DEFAULT_WINDOW_DAYS
from shared.openapi_badges import badge_paths, shields_schema
from shared.openapi_discovery import trending_path, trending_schema
from shared.openapi_exports import export_paths, exports_schema
from shared.versions import MAX_SPEC_CHARS, MAX_SPECS

PACKAGE_PATTERN = r"^(__all__|[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$"
PERIODS = ["day", "week", "month"]
OS_VALUES = ["Windows", "Linux", "Darwin", "other", "null"]


def _any_case_pattern(words: list[str]) -> str:
    """An ECMA-262 pattern matching any of ``words`` in any letter case (no inline flags there)."""
    alternatives = ("".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in w) for w in words)
    return "^(" + "|".join(alternatives) + ")$"


def _text_param(name: str, longest: int, description: str, example: str) -> dict[str, Any]:
    """A category filter whose values are free text as logged (printable, at most ``longest``)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "maxLength": longest, "pattern": r"^[^\u0000-\u001f\u007f]*$"},
        "example": example,
    }


#: The largest ``limit`` of ``/version``.
MAX_VERSION_LIMIT = 100

#: (path, type name, summary, description, parameters beyond package and dates) of the time series.
SERIES_ENDPOINTS: list[tuple[str, str, str, str, list[dict[str, Any]]]] = [
    (
        "overall",
        "overall_downloads",
        "Daily downloads, with and without mirrors",
        "Every day's downloads in two categories: `with_mirrors` counts every download, "
        "`without_mirrors` leaves out downloads by PyPI mirroring tools (bandersnatch, devpi, "
        "Artifactory, z3c.pypimirror) and by installers that did not say who they are.",
        [
            {
                "name": "mirrors",
                "in": "query",
                "required": False,
                "description": "`true` keeps only `with_mirrors`, `false` only `without_mirrors`; "
                "leave it out for both categories.",
                "schema": {"type": "string", "enum": ["true", "false"]},
            },
            {
                "name": "who",
                "in": "query",
                "required": False,
                "description": "`people`: only the category `people`, the downloads by people and their "
                "projects: no mirrors, no CI (`details.ci` true), and only the installers people run "
                "(pip, uv, poetry, pdm, pipenv, pipx, conda, hatch, rye, pex; not browsers, HTTP "
                "libraries, OS packaging, build systems or a missing installer). Not with `mirrors`. "
                "`all` (or leaving it out) answers the two categories as pypistats.org does.",
                "schema": {"type": "string", "enum": ["all", "people"]},
            },
        ],
    ),
    (
        "python_major",
        "python_major_downloads",
        "Daily downloads by Python major version",
        "Downloads per day by the major version of the Python interpreter that asked for the file "
        "(`2`, `3`), and `null` when the installer did not report one.",
        [
            {
                "name": "version",
                "in": "query",
                "required": False,
                "description": "Keep one major version, e.g. `3`, or `null` for unreported versions.",
                "schema": {"type": "string", "pattern": r"^([0-9]{1,3}|null)$"},
                "example": "3",
            }
        ],
    ),
    (
        "python_minor",
        "python_minor_downloads",
        "Daily downloads by Python minor version",
        "Downloads per day by the minor version of the Python interpreter (`2.7`, `3.12`, ...), "
        "and `null` when the installer did not report one.",
        [
            {
                "name": "version",
                "in": "query",
                "required": False,
                "description": "Keep one minor version, e.g. `3.12`, or `null` for unreported versions.",
                "schema": {"type": "string", "pattern": r"^([0-9]{1,3}\.[0-9]{1,3}|null)$"},
                "example": "3.12",
            }
        ],
    ),
    (
        "system",
        "system_downloads",
        "Daily downloads by operating system",
        "Downloads per day by the operating system of the downloading machine: `Darwin`, `Linux`, "
        "`Windows`, `other` for any other reported system, and `null` when none was reported.",
        [
            {
                "name": "os",
                "in": "query",
                "required": False,
                "description": "Keep one operating system (any letter case): "
                "`Windows`, `Linux`, `Darwin`, `other` or `null`.",
                "schema": {"type": "string", "pattern": _any_case_pattern(OS_VALUES)},
                "example": "Linux",
            }
        ],
    ),
    (
        "version",
        "version_downloads",
        "Daily downloads by package version",
        "Downloads per day by the version of the package that was downloaded, exactly as PyPI "
        "logged it (not normalised), and `null` when none was logged. Counted without mirrors. "
        "With `limit`, the versions with most downloads in the range are kept and the rest is "
        "summed per day under `other`. Not available for `__all__` (versions of different "
        "packages are unrelated): its answer is empty.",
        [
            _text_param(
                "version", 128, "Keep one version, exactly as logged (e.g. `2.32.3`), or `null`.", "2.32.3"
            ),
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Keep the N versions with most downloads in the range (1 to {MAX_VERSION_LIMIT}); "
                "the others are summed per day in the category `other`. With `group` or `spec`, "
                "the N groups with most downloads.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_VERSION_LIMIT},
                "example": 10,
            },
            {
                "name": "group",
                "in": "query",
                "required": False,
                "description": "Sum the versions per major (`2.1.0` -> `2`) or minor (`2.1.0` -> `2.1`) "
                "version, parsed as PEP 440 versions. A pre-, post- or dev-release counts with its "
                "release (`2.0rc1` under `2` and `2.0`); a version that is not PEP 440 (`null`, "
                "`latest`) counts under `other`, so every day's groups sum to its downloads.",
                "schema": {"type": "string", "enum": ["major", "minor"]},
                "example": "major",
            },
            {
                "name": "spec",
                "in": "query",
                "required": False,
                "description": "A group named by a PEP 440 specifier set (`<2`, `>=2,<3`, `~=1.4`), "
                f"repeatable (at most {MAX_SPECS}): each version counts under the first specifier it matches, "
                "else under its `group` (with `group`) or `other`. A pre- or dev-release is matched "
                "as the release it leads to (`2.0rc1` as `2.0`: `>=2` takes it, `<2` does not), "
                "unless the specifier names a pre-release (`>=2.0rc1`): then as it is. The "
                "category is the specifier as `packaging` writes it.",
                "schema": {
                    "type": "array",
                    "maxItems": MAX_SPECS,
                    "items": {"type": "string", "minLength": 1, "maxLength": MAX_SPEC_CHARS},
                },
                "style": "form",
                "explode": True,
                "example": ["<2", ">=2"],
            },
        ],
    ),
    (
        "installer",
        "installer_downloads",
        "Daily downloads by installer",
        "Downloads per day by the name of the installer that asked for the file, exactly as logged "
        "(`pip`, `uv`, `poetry`, `bandersnatch`, ...), and `null` when none was reported. Counted "
        "over every download, mirrors included, so the categories add up to `with_mirrors` and "
        "show the mirrors' share.",
        [
            _text_param(
                "installer",
                64,
                "Keep one installer, exactly as logged (letter case matters), or `null`.",
                "pip",
            )
        ],
    ),
    (
        "country",
        "country_downloads",
        "Daily downloads by country",
        "Downloads per day by the country of the downloading address (ISO 3166 alpha-2 codes as "
        "logged: `US`, `DE`, ...), and `null` when unknown. Counted without mirrors.",
        [_text_param("country", 16, "Keep one country code (any letter case), or `null`.", "US")],
    ),
    (
        "file_type",
        "file_type_downloads",
        "Daily downloads by file type",
        "Downloads per day by the kind of file downloaded (`bdist_wheel`, `sdist`, ...), and `null` "
        "when none was logged. Counted without mirrors.",
        [_text_param("file_type", 32, "Keep one file type, e.g. `bdist_wheel`, or `null`.", "bdist_wheel")],
    ),
    (
        "ci",
        "ci_downloads",
        "Daily downloads from continuous integration",
        "Downloads per day by whether the installer said it ran in continuous integration: `true`, "
        "`false`, or `null` when it did not say. Counted without mirrors.",
        [
            {
                "name": "ci",
                "in": "query",
                "required": False,
                "description": "Keep one category (any letter case): `true`, `false` or `null`.",
                "schema": {"type": "string", "pattern": _any_case_pattern(["true", "false", "null"])},
                "example": "true",
            }
        ],
    ),
    # --- platforms and ABIs (event schema 4; shared/platforms.py names them) ---
    (
        "platform",
        "platform_downloads",
        "Daily downloads by platform",
        "Downloads per day by the platform a wheel was built for, read from its file name's PEP 427 "
        "platform tag and grouped by operating system and architecture: `manylinux x86_64` (every "
        "manylinux1, 2010, 2014 and `manylinux_2_N` spelling), `musllinux aarch64`, `macOS arm64`, "
        "`macOS universal2`, `Windows amd64`, `Windows x86`, ..., `any` for a pure-Python wheel; "
        "`sdist` for a source distribution, `null` when no file name was logged and `other` for "
        "any other file (an egg, an installer) or a platform without a name here. Counted without "
        "mirrors, so the categories add up to `without_mirrors` from the day this dimension was "
        "first counted.",
        [
            _text_param(
                "platform",
                64,
                "Keep one platform, exactly as named here (letter case matters), e.g. `manylinux x86_64`.",
                "manylinux x86_64",
            )
        ],
    ),
    (
        "abi",
        "abi_downloads",
        "Daily downloads by ABI",
        "Downloads per day by the ABI tag of the wheel downloaded, as its file name gives it in lower "
        "case: `cp312`, `cp313t` (a free-threaded CPython build), `abi3` (CPython's stable ABI), "
        "`none` (no compiled code), `pypy310_pp73`, ...; `sdist` for a source distribution, `null` "
        "when no file name was logged and `other` for any other file. Counted without mirrors.",
        [_text_param("abi", 32, "Keep one ABI (any letter case), e.g. `cp313t`.", "cp313t")],
    ),
]


def _header(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "schema": schema}


HEADERS: dict[str, Any] = {
    "AccessControlAllowOrigin": _header(
        "Always `*`: any web page may call the API.", {"type": "string", "const": "*"}
    ),
    "CacheControl": _header(
        "`public, max-age=N`, where N is the number of seconds until the next daily update is expected.",
        {"type": "string"},
    ),
    "ETag": _header(
        "A tag of the body; send it back in `If-None-Match` to get a `304` while it is unchanged.",
        {"type": "string"},
    ),
    "RateLimitLimit": _header(
        "Requests allowed per window for this client address.", {"type": "integer", "minimum": 0}
    ),
    "RateLimitRemaining": _header("Requests left in the current window.", {"type": "integer", "minimum": 0}),
    "RateLimitReset": _header(
        "Seconds until the current window ends and the count starts again.",
        {"type": "integer", "minimum": 0},
    ),
    "RetryAfter": _header("Seconds to wait before trying again.", {"type": "integer", "minimum": 0}),
}

_RATE_HEADERS = {
    "Access-Control-Allow-Origin": {"$ref": "#/components/headers/AccessControlAllowOrigin"},
    "RateLimit-Limit": {"$ref": "#/components/headers/RateLimitLimit"},
    "RateLimit-Remaining": {"$ref": "#/components/headers/RateLimitRemaining"},
    "RateLimit-Reset": {"$ref": "#/components/headers/RateLimitReset"},
}
_CACHE_HEADERS = {
    **_RATE_HEADERS,
    "Cache-Control": {"$ref": "#/components/headers/CacheControl"},
    "ETag": {"$ref": "#/components/headers/ETag"},
}


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "additionalProperties": False,
                "properties": {
                    "status": {"type": "integer", "description": "The HTTP status code again."},
                    "message": {"type": "string", "description": "What went wrong, for people."},
                    "parameter": {
                        "type": "string",
                        "description": "The parameter whose value was refused, when one was.",
                    },
                },
            }
        },
    }


def _downloads() -> dict[str, Any]:
    return {"type": "integer", "minimum": 0}


def _schemas() -> dict[str, Any]:
    series_row = {
        "type": "object",
        "required": ["category", "date", "downloads"],
        "additionalProperties": False,
        "properties": {
            "category": {"type": "string"},
            "date": {"type": "string", "format": "date"},
            "downloads": {"type": "integer", "minimum": 1},
        },
    }
    series_bin_row = {
        "type": "object",
        "required": ["category", "date", "downloads", "partial"],
        "additionalProperties": False,
        "properties": {
            "category": {"type": "string"},
            "date": {
                "type": "string",
                "format": "date",
                "description": "The first day of the bin (a Monday for `week`, the 1st for `month`, "
                "1 January for `year`).",
            },
            "downloads": {
                "type": "integer",
                "minimum": 1,
                "description": "The sum of the bin's days in the window.",
            },
            "partial": {
                "type": "boolean",
                "description": "`true` when the window does not cover every day of the bin (the "
                "window starts after its first day or ends before its last).",
            },
        },
    }
    totals_data = {
        "type": "object",
        "required": ["all_time", "first_day", "last_day", "last_month", "last_week", "last_year", "rank"],
        "additionalProperties": False,
        "properties": {
            "rank": {
                "type": "object",
                "required": ["last_month", "people_last_month"],
                "additionalProperties": False,
                "description": "The package's rank among every package by the last 30 days' downloads "
                "without mirrors (`last_month`) and by people (`people_last_month`): `rank` (1 is the "
                "most downloaded; ties share a rank), `of` (packages with a download in those days) and "
                "`top_percent` (the smallest of 0.01, 0.1 and each whole percent the rank is within). "
                "`null` for `__all__` and a package without downloads in those days.",
                "properties": {
                    key: {
                        "oneOf": [
                            {"type": "null"},
                            {
                                "type": "object",
                                "required": ["of", "rank", "top_percent"],
                                "additionalProperties": False,
                                "properties": {
                                    "of": {"type": "integer", "minimum": 1},
                                    "rank": {"type": "integer", "minimum": 1},
                                    "top_percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                                },
                            },
                        ]
                    }
                    for key in ("last_month", "people_last_month")
                },
            },
            "all_time": {**_downloads(), "description": "Every day on record."},
            "first_day": {
                "type": ["string", "null"],
                "format": "date",
                "description": "The first day with a download on record (`null` when there is none).",
            },
            "last_day": {**_downloads(), "description": "The last complete day."},
            "last_month": {**_downloads(), "description": "The 30 days ending with the last complete day."},
            "last_week": {**_downloads(), "description": "The 7 days ending with the last complete day."},
            "last_year": {**_downloads(), "description": "The 365 days ending with the last complete day."},
        },
    }
    recent_data = {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {f"last_{p}": _downloads() for p in PERIODS},
    }
    schemas: dict[str, Any] = {
        "Error": _error_schema(),
        "SeriesRow": series_row,
        "SeriesBinRow": series_bin_row,
        "TotalsResponse": _envelope("total_downloads", {"$ref": "#/components/schemas/TotalsData"}),
        "TotalsData": totals_data,
        "RecentResponse": _envelope("recent_downloads", {"$ref": "#/components/schemas/RecentData"}),
        "RecentData": recent_data,
        "TopResponse": {
            "type": "object",
            "required": ["data", "limit", "period", "type"],
            "additionalProperties": False,
            "properties": {
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["downloads", "package", "rank"],
                        "additionalProperties": False,
                        "properties": {
                            "downloads": _downloads(),
                            "package": {"type": "string"},
                            "rank": {"type": "integer", "minimum": 1},
                        },
                    },
                },
                "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                "period": {"type": "string", "enum": PERIODS},
                "type": {"const": "top_packages"},
            },
        },
        "ExportsResponse": exports_schema(),
        "StatusResponse": {
            "type": "object",
            "required": ["data", "type"],
            "additionalProperties": False,
            "properties": {
                "type": {"const": "status"},
                "data": {
                    "type": "object",
                    "required": ["last_complete_day", "last_run", "packages"],
                    "additionalProperties": False,
                    "properties": {
                        "last_complete_day": {"type": ["string", "null"], "format": "date"},
                        "packages": {"type": "integer", "minimum": 0},
                        "last_run": {
                            "oneOf": [
                                {"type": "null"},
                                {
                                    "type": "object",
                                    "required": [
                                        "completed_at",
                                        "day",
                                        "packages",
                                        "rows",
                                        "run_id",
                                        "source",
                                    ],
                                    "additionalProperties": False,
                                    "properties": {
                                        "completed_at": {"type": "string", "format": "date-time"},
                                        "day": {"type": "string", "format": "date"},
                                        "packages": {"type": "integer", "minimum": 0},
                                        "rows": {"type": "integer", "minimum": 0},
                                        "run_id": {"type": "string"},
                                        "source": {"type": "string"},
                                    },
                                },
                            ]
                        },
                    },
                },
            },
        },
        "ShieldsEndpoint": shields_schema(),
        "TrendingResponse": trending_schema(),
    }
    for _path, type_name, _s, _d, _p in SERIES_ENDPOINTS:
        rows = {
            "oneOf": [
                {"$ref": "#/components/schemas/SeriesRow"},
                {"$ref": "#/components/schemas/SeriesBinRow"},
            ]
        }
        schemas[_schema_name(type_name)] = _envelope(type_name, {"type": "array", "items": rows})
    return schemas


def _schema_name(type_name: str) -> str:
    return "".join(part.title() for part in type_name.split("_")) + "Response"


def _envelope(type_name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "package", "type"],
        "additionalProperties": False,
        "properties": {
            "data": data,
            "package": {"type": "string", "description": "The normalised (PEP 503) package name."},
            "type": {"const": type_name},
        },
    }


def _json(description: str, schema_ref: str, headers: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": headers,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


def _error(description: str, extra_headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return _json(description, "Error", {**_RATE_HEADERS, **(extra_headers or {})})


def _standard_responses(*, package: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "304": {
            "description": "Not modified: the `ETag` sent in `If-None-Match` still matches.",
            "headers": _CACHE_HEADERS,
        },
        "400": _error("A parameter has a value that is not allowed; `parameter` names it."),
        "429": _error(
            "Too many requests from this address in the current window.",
            {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
        ),
    }
    if package:
        responses["404"] = _error("No such package: it was never downloaded in the retained window.")
    return responses


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _parameters() -> dict[str, Any]:
    return {
        "package": {
            "name": "package",
            "in": "path",
            "required": True,
            "description": "The project name as on PyPI, in any spelling: it is normalised "
            "(PEP 503: lower case, runs of `-`, `_` and `.` become `-`). `__all__` is every package summed.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": PACKAGE_PATTERN},
            "example": "requests",
        },
        "start_date": {
            "name": "start_date",
            "in": "query",
            "required": False,
            "description": "Only days on or after this date (`YYYY-MM-DD`); any date back to the first "
            f"day on record. Without it, the last {DEFAULT_WINDOW_DAYS} days before the last complete "
            f"day ({DEFAULT_WINDOW_DAYS + 1} dates, as pypistats.org answers).",
            "schema": {"type": "string", "format": "date"},
        },
        "end_date": {
            "name": "end_date",
            "in": "query",
            "required": False,
            "description": "Only days on or before this date (`YYYY-MM-DD`); not before `start_date`. "
            "Without it, the last complete day.",
            "schema": {"type": "string", "format": "date"},
        },
        "bin": {
            "name": "bin",
            "in": "query",
            "required": False,
            "description": "`day` (the default) answers every day, exactly as pypistats.org does. "
            "`week` (ISO weeks, from Monday), `month` and `year` answer one row per category and bin: "
            "`date` is the bin's first day, `downloads` the sum of its days in the window, and "
            "`partial` is `true` when the window (the requested dates, within the days on record) "
            "does not cover all of the bin's days.",
            "schema": {"type": "string", "enum": list(BINS)},
            "example": "month",
        },
        "period": {
            "name": "period",
            "in": "query",
            "required": False,
            "description": "`day` is the last complete day, `week` its last 7 days, `month` its last 30 days.",
            "schema": {"type": "string", "enum": PERIODS},
        },
    }


def _series_operation(
    path: str, type_name: str, summary: str, description: str, extra: list[dict[str, Any]]
) -> Any:
    params = [_ref("package"), *extra, _ref("start_date"), _ref("end_date"), _ref("bin")]
    return {
        "get": {
            "operationId": f"get_{path}",
            "tags": ["packages"],
            "summary": summary,
            "description": description
            + f" Rows are ordered by category, then date; days without downloads have no row. By "
            f"default the last {DEFAULT_WINDOW_DAYS} days before the last complete day; `start_date` "
            "reaches back to the first day on record, and `bin` sums the days per week, month or year.",
            "parameters": params,
            "responses": {
                "200": _json("The time series.", _schema_name(type_name), _CACHE_HEADERS),
                **_standard_responses(package=True),
            },
        }
    }


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/packages/{package}/recent": {
            "get": {
                "operationId": "get_recent",
                "tags": ["packages"],
                "summary": "Recent downloads: last day, week and month",
                "description": "Downloads without mirrors over the last complete day, the 7 days and the "
                "30 days ending with it. With `period`, only that one total is returned. A known "
                "package without downloads in the period gives `0`.",
                "parameters": [_ref("package"), _ref("period")],
                "responses": {
                    "200": _json("The totals.", "RecentResponse", _CACHE_HEADERS),
                    **_standard_responses(package=True),
                },
            }
        }
    }
    for path, type_name, summary, description, param in SERIES_ENDPOINTS:
        paths[f"/api/packages/{{package}}/{path}"] = _series_operation(
            path, type_name, summary, description, param
        )
    paths["/api/packages/{package}/totals"] = {
        "get": {
            "operationId": "get_totals",
            "tags": ["packages"],
            "summary": "Totals: last day, week, month and year, all time, and the rank",
            "description": "Downloads without mirrors over the last complete day, the 7, 30 and 365 "
            "days ending with it, and every day on record (`all_time`), with the first day that "
            "has a download on record. A known package without downloads in a period gives `0`.",
            "parameters": [_ref("package")],
            "responses": {
                "200": _json("The totals.", "TotalsResponse", _CACHE_HEADERS),
                **_standard_responses(package=True),
            },
        }
    }
    paths.update(
        badge_paths(
            _ref("package"),
            _CACHE_HEADERS,
            _json("The badge document (a failure: `isError`).", "ShieldsEndpoint", _CACHE_HEADERS),
        )
    )
    paths["/api/top"] = {
        "get": {
            "operationId": "get_top",
            "tags": ["site"],
            "summary": "Most downloaded packages",
            "description": "Packages ranked by downloads without mirrors over the period "
            "(`__all__` excluded).",
            "parameters": [
                _ref("period"),
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": "How many packages, 1 to 100 (default 20).",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                },
            ],
            "responses": {
                "200": _json("The ranking.", "TopResponse", _CACHE_HEADERS),
                **_standard_responses(package=False),
            },
        }
    }
    paths["/api/trending"] = trending_path(
        _json("The list.", "TrendingResponse", _CACHE_HEADERS), _standard_responses(package=False)
    )
    paths["/api/status"] = {
        "get": {
            "operationId": "get_status",
            "tags": ["site"],
            "summary": "Freshness of the data",
            "description": "The last complete day, the number of packages and the last ingest run that completed.",
            "responses": {
                "200": _json("The status.", "StatusResponse", _CACHE_HEADERS),
                **_standard_responses(package=False),
            },
        }
    }
    paths.update(
        export_paths(
            _CACHE_HEADERS,
            _json("The index of the exported files.", "ExportsResponse", _CACHE_HEADERS),
            _standard_responses(package=False),
            _error("No export of that day (not complete, not exported yet, or exports are off)."),
        )
    )
    paths["/api/openapi.json"] = {
        "get": {
            "operationId": "get_openapi",
            "tags": ["site"],
            "summary": "This document",
            "description": "The OpenAPI 3.1 description of the API.",
            "responses": {
                "200": {
                    "description": "The document.",
                    "headers": _CACHE_HEADERS,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_standard_responses(package=False),
            },
        }
    }
    paths["/api/asyncapi.json"] = {
        "get": {
            "operationId": "get_asyncapi",
            "tags": ["site"],
            "summary": "The events document",
            "description": (
                "The AsyncAPI 3.0 description of the events the services exchange on NATS JetStream: "
                "every subject, message and schema (package-days, day manifests, `rollups.updated`, "
                "dead letters), generated from the services' FastStream routers."
            ),
            "responses": {
                "200": {
                    "description": "The document.",
                    "headers": _CACHE_HEADERS,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_standard_responses(package=False),
            },
        }
    }
    paths.update(_ops_paths())
    return paths


def _ops_paths() -> dict[str, Any]:
    status_body = {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string"},
            "checks": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    return {
        "/health": {
            "get": {
                "operationId": "get_health",
                "tags": ["operations"],
                "summary": "Liveness",
                "description": "Answers while the process is up. Not rate limited.",
                "responses": {
                    "200": {
                        "description": "Up.",
                        "content": {"application/json": {"schema": status_body}},
                    }
                },
            }
        },
        "/ready": {
            "get": {
                "operationId": "get_ready",
                "tags": ["operations"],
                "summary": "Readiness",
                "description": "Ready when the database answers. Redis is reported in `checks` but "
                "does not make the service unready: without it the API answers from the database. "
                "Not rate limited.",
                "responses": {
                    "200": {
                        "description": "Ready.",
                        "content": {"application/json": {"schema": status_body}},
                    },
                    "503": {
                        "description": "The database does not answer.",
                        "content": {"application/json": {"schema": status_body}},
                    },
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "get_metrics",
                "tags": ["operations"],
                "summary": "Prometheus metrics",
                "description": "Metrics in the Prometheus text format. Not rate limited.",
                "responses": {
                    "200": {
                        "description": "The metrics.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def openapi_document(server_url: str = "/") -> dict[str, Any]:
    """The full OpenAPI 3.1 document; ``server_url`` is the base the paths are relative to."""
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "PyPI download statistics API",
                "version": "1.0.0",
                "summary": "Daily download counts of PyPI packages, compatible with pypistats.org.",
                "description": "Read-only JSON API over PyPI's public download logs. The five "
                "`/api/packages/...` endpoints `recent`, `overall`, `python_major`, `python_minor` "
                "and `system` answer exactly like pypistats.org, so the `pypistats` command-line "
                "client works unchanged. Every answer carries `Access-Control-Allow-Origin: *` and "
                "rate-limit headers; successful answers carry `Cache-Control` (until the next daily "
                "update) and an `ETag`. Errors are JSON: "
                '`{"error": {"status": 400, "message": "...", "parameter": "period"}}`. Data is '
                "updated once a day, shortly after 01:00 UTC. Every day is kept by default (an operator "
                f"may keep fewer); a time series answers the last {DEFAULT_WINDOW_DAYS} days unless `start_date` asks for more.",
                "license": {"name": "MIT", "identifier": "MIT"},
            },
            "servers": [{"url": server_url}],
            "tags": [
                {"name": "packages", "description": "Download statistics of one package."},
                {"name": "badges", "description": "Badges for READMEs."},
                {"name": "site", "description": "Rankings, freshness and this document."},
                {"name": "exports", "description": "Every complete day in bulk: Parquet and CSV files."},
                {"name": "operations", "description": "Health, readiness and metrics for operators."},
            ],
            "paths": _paths(),
            "components": {"schemas": _schemas(), "parameters": _parameters(), "headers": HEADERS},
        }
    )
