"""docs/asyncapi.json is the document FastStream generates from the services' routers, and names
every subject, message and schema of contracts.md section 3."""

from __future__ import annotations

import json
from pathlib import Path

from shared.asyncapi import asyncapi_document, render, routers

ROOT = Path(__file__).resolve().parents[3]


def test_docs_asyncapi_json_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "asyncapi.json").read_text()
    assert committed == render(), "regenerate: python -m shared.asyncapi > docs/asyncapi.json"


def test_every_service_declares_its_channels() -> None:
    assert set(routers()) == {"aggregator", "api", "ingest", "web"}


def test_every_subject_message_and_schema_is_documented() -> None:
    document = asyncapi_document()
    assert document["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {
        "downloads.daily.v1.{day}",
        "downloads.manifest.v1.{day}",
        "downloads.{kind}.v1.{day}",
        "rollups.updated.v1.{day}",
        "downloads.dead.v1",
    }
    actions = {(name, op["action"]) for name, op in document["operations"].items()}
    assert {a for _, a in actions} == {"send", "receive"}
    schemas = document["components"]["schemas"]
    assert {"PackageDay", "DayManifest", "RollupsUpdated", "DeadLetter", "Counts"} <= set(schemas)
    assert "day" in schemas["PackageDay"]["properties"] and "run_id" in schemas["DayManifest"]["properties"]
    # who sends and who receives rollups.updated
    rollups = [name for name, c in document["channels"].items() if c["address"].startswith("rollups.")]
    assert sorted(rollups) == ["aggregator: rollups.updated", "api: rollups.updated", "web: rollups.updated"]


def test_the_command_and_the_link_are_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "python -m shared.asyncapi > docs/asyncapi.json" in readme
    assert "/api/asyncapi.json" in (ROOT / "services" / "web" / "templates" / "api.html").read_text()
    assert json.loads(render()) == asyncapi_document()
