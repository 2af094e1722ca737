"""Fuzz the API from its own OpenAPI document with schemathesis: no 5xx, every answer as documented
(``bin`` and ``/totals`` included: generated cases, and every bin of every series on a seeded package)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import hypothesis
import pytest
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given
from redis.asyncio import Redis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from services.aggregator.exporter import export_day
from shared.bins import BINS
from shared.db.layout import Dictionary
from shared.openapi import SERIES_ENDPOINTS, openapi_document

# Reuse the api fixtures (seeded rollups, an in-process API).
from tests.integration.api.conftest import END, ApiFactory, api_factory, seeded, settings_for  # noqa: F401

MAX_EXAMPLES = 30
# "Schema-valid request rejected" cannot know the one rule JSON Schema cannot state across two
# parameters (end_date not before start_date), which the API answers with a documented 400.
# Every 400 is still checked against the documented Error body.
EXCLUDED = [positive_data_acceptance]


def fuzz(base_url: str) -> list[str]:
    """Run every operation's strategy against ``base_url``; returns the operations checked."""
    schema = schemathesis.openapi.from_dict(openapi_document())
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, timeout=30, excluded_checks=EXCLUDED)

        run()
        # Random names are almost all unknown (404): check the documented 200 on a seeded package too.
        known = {"package": "requests"} if "{package}" in operation.path else {}
        if "{file}" in operation.path:  # the bulk export written by the fixture
            known = {"file": f"{END}.parquet"}
        response = operation.Case(path_parameters=known).call_and_validate(
            base_url=base_url, timeout=30, excluded_checks=EXCLUDED
        )
        assert response.status_code == 200, (operation.path, response.text[:200])
        if any(p.name == "bin" for p in operation.query):
            # Every bin over the whole history of a seeded package, each answer as documented.
            for bin in BINS:
                query = {"bin": bin, "start_date": "2000-01-01"}
                response = operation.Case(path_parameters=known, query=query).call_and_validate(
                    base_url=base_url, timeout=30, excluded_checks=EXCLUDED
                )
                assert response.status_code == 200, (operation.path, bin, response.text[:200])
                rows = response.json()["data"]
                assert rows and all(("partial" in r) is (bin != "day") for r in rows), (operation.path, bin)
            checked.append(f"bin {operation.path}")
        checked.append(f"{operation.method.upper()} {operation.path}")
    return checked


@pytest.fixture
async def api(seeded: asyncpg.Pool, redis: Redis, api_factory: ApiFactory, tmp_path: Path) -> TestClient:  # noqa: F811
    """The seeded API, with the last day exported (the export endpoints answer 200 too)."""
    assert await export_day(seeded, Dictionary(), tmp_path, END) is not None
    return await api_factory(export_dir=tmp_path)


@pytest.mark.slow
async def test_every_operation_answers_as_documented(api: TestClient) -> None:
    base_url = str(api.make_url("/")).rstrip("/")
    checked = await asyncio.to_thread(fuzz, base_url)
    operations = [c for c in checked if not c.startswith("bin ")]
    assert len(operations) == sum(len(item) for item in openapi_document()["paths"].values())
    assert "GET /api/packages/{package}/totals" in operations
    assert {c.rsplit("/", 1)[1] for c in checked if c.startswith("bin ")} == {p for p, *_ in SERIES_ENDPOINTS}
