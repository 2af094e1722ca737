"""Pure conversion of an OpenAPI 3.1 document into what the ``/api`` page lists.

Owns the walk over ``paths``: one entry per operation with its parameters (resolving local
``$ref``s to components) and responses, in the document's order. Unknown or malformed parts are
skipped, so the page renders whatever the API publishes.
"""

from __future__ import annotations

from typing import Any

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


def _resolve(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    if isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 10:
        ref = node["$ref"]
        if ref.startswith("#/"):
            target: Any = doc
            for part in ref[2:].split("/"):
                target = (
                    target.get(part.replace("~1", "/").replace("~0", "~"), {})
                    if isinstance(target, dict)
                    else {}
                )
            return _resolve(doc, target, depth + 1)
    return node


def _schema_text(doc: dict[str, Any], schema: Any) -> str:
    schema = _resolve(doc, schema)
    if not isinstance(schema, dict):
        return ""
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    kind = schema.get("type", "")
    if kind == "array" and "items" in schema:  # a repeatable parameter (``spec``)
        return f"{_schema_text(doc, schema['items'])}, repeatable"
    if isinstance(kind, list):
        kind = " | ".join(str(k) for k in kind)
    extra = []
    if "format" in schema:
        extra.append(str(schema["format"]))
    if "minimum" in schema or "maximum" in schema:
        extra.append(f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
    if "default" in schema:
        extra.append(f"default {schema['default']}")
    return f"{kind} ({', '.join(extra)})" if extra else str(kind)


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        return out
    for path, item in paths.items():
        item = _resolve(doc, item)
        if not isinstance(item, dict):
            continue
        shared_params = item.get("parameters") or []
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            params = []
            for raw in [*shared_params, *(op.get("parameters") or [])]:
                p = _resolve(doc, raw)
                if isinstance(p, dict) and "name" in p:
                    params.append(
                        {
                            "name": str(p["name"]),
                            "in": str(p.get("in", "")),
                            "required": bool(p.get("required", False)),
                            "schema": _schema_text(doc, p.get("schema")),
                            "description": str(p.get("description", "")),
                        }
                    )
            responses = []
            for status, resp in (op.get("responses") or {}).items():
                resp = _resolve(doc, resp)
                description = resp.get("description", "") if isinstance(resp, dict) else ""
                responses.append({"status": str(status), "description": str(description)})
            out.append(
                {
                    "id": str(op.get("operationId") or f"{method}-{path}"),
                    "method": method.upper(),
                    "path": str(path),
                    "summary": str(op.get("summary", "")),
                    "description": str(op.get("description", "")),
                    "parameters": params,
                    "responses": responses,
                }
            )
    return out


def overview(doc: dict[str, Any]) -> dict[str, str]:
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    assert isinstance(info, dict)
    return {
        "title": str(info.get("title", "API")),
        "version": str(info.get("version", "")),
        "description": str(info.get("description", "")),
    }
