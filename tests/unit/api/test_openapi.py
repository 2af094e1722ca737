"""The OpenAPI document: valid OpenAPI 3.1, valid JSON Schemas, every reference resolvable."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
from schemathesis.specs.openapi.definitions import OPENAPI_31

from shared.bins import BINS
from shared.openapi import SERIES_ENDPOINTS, openapi_document


def _walk(node: Any) -> list[Any]:
    found = [node]
    if isinstance(node, dict):
        for value in node.values():
            found.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk(value))
    return found


def test_document_is_valid_openapi_31() -> None:
    doc = openapi_document("http://example.test/")
    jsonschema.Draft202012Validator(OPENAPI_31).validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": "http://example.test/"}]
    json.dumps(doc)  # serialisable as served


def test_every_reference_resolves_and_every_schema_is_valid() -> None:
    doc = openapi_document()
    for node in _walk(doc):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            target: Any = doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            assert target, node["$ref"]
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name
    for node in _walk(doc):
        if isinstance(node, dict) and isinstance(node.get("pattern"), str):
            re.compile(node["pattern"])


def test_every_operation_documents_its_answers() -> None:
    doc = openapi_document()
    operation_ids = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert method == "get"
            assert op["summary"] and op["description"], path
            operation_ids.add(op["operationId"])
            if path.endswith("/shields.json"):
                # shields.io reads no body of an error status: every failure is a 200 with isError
                assert not {"400", "404", "429"} & set(op["responses"])
                assert "isError" in op["responses"]["200"]["description"]
            elif path.startswith("/api/"):
                assert {"200", "304", "400", "429"} <= set(op["responses"]), path
                assert "Retry-After" in op["responses"]["429"]["headers"]
            if path.endswith("/shields.json"):
                assert "404" not in op["responses"]
                assert "isError" in doc["components"]["schemas"]["ShieldsEndpoint"]["properties"]
            elif "{package}" in path:
                assert "404" in op["responses"], path
    assert len(operation_ids) == sum(len(item) for item in doc["paths"].values())


def test_documented_patterns_accept_what_the_api_accepts() -> None:
    params = openapi_document()["components"]["parameters"]
    package = re.compile(params["package"]["schema"]["pattern"])
    assert package.match("__all__") and package.match("Django") and package.match("zope.interface")
    assert not package.match("../etc") and not package.match("a b") and not package.match("-a")
    system = openapi_document()["paths"]["/api/packages/{package}/system"]["get"]["parameters"][1]
    os_pattern = re.compile(system["schema"]["pattern"])
    assert os_pattern.match("wInDoWs") and os_pattern.match("NULL") and not os_pattern.match("BeOS")


def test_every_series_takes_bin_and_answers_daily_or_binned_rows() -> None:
    doc = openapi_document()
    components = doc["components"]
    assert components["parameters"]["bin"]["schema"]["enum"] == list(BINS)
    assert "180 days" in components["parameters"]["start_date"]["description"]
    series = [f"/api/packages/{{package}}/{path}" for path, *_ in SERIES_ENDPOINTS]
    assert len(series) == 11 and set(series) <= set(doc["paths"])
    for path in series:
        names = [p["$ref"].rsplit("/", 1)[1] for p in doc["paths"][path]["get"]["parameters"] if "$ref" in p]
        assert names[-3:] == ["start_date", "end_date", "bin"], path
    schema = {**components["schemas"]["OverallDownloadsResponse"], "components": components}
    resolver = jsonschema.Draft202012Validator(schema)  # "#/components/..." resolves in it
    day = {"category": "3.12", "date": "2026-03-01", "downloads": 5}
    binned = {**day, "partial": True}
    for rows, valid in (
        ([day], True),
        ([binned], True),
        ([{**day, "partial": "no"}], False),
        ([{**day, "x": 1}], False),
    ):
        body = {"data": rows, "package": "p", "type": "overall_downloads"}
        assert resolver.is_valid(body) is valid, rows


def test_totals_is_documented() -> None:
    doc = openapi_document()
    op = doc["paths"]["/api/packages/{package}/totals"]["get"]
    assert op["operationId"] == "get_totals" and {"200", "304", "400", "404", "429"} <= set(op["responses"])
    components = doc["components"]
    validator = jsonschema.Draft202012Validator(
        {**components["schemas"]["TotalsResponse"], "components": components}
    )
    data = {
        "all_time": 9,
        "first_day": "2024-03-18",
        "last_day": 1,
        "last_month": 3,
        "last_week": 2,
        "last_year": 8,
        "rank": {"last_month": {"of": 10, "rank": 1, "top_percent": 10.0}, "people_last_month": None},
    }
    assert validator.is_valid({"data": data, "package": "p", "type": "total_downloads"})
    assert validator.is_valid(
        {"data": {**data, "first_day": None}, "package": "p", "type": "total_downloads"}
    )
    assert not validator.is_valid({"data": {**data, "rank": 1}, "package": "p", "type": "total_downloads"})
    assert not validator.is_valid({"data": {**data, "extra": 1}, "package": "p", "type": "total_downloads"})
    assert not validator.is_valid({"data": data, "package": "p", "type": "recent_downloads"})
