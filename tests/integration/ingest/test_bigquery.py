"""The BigQuery source through the real client library against the local REST stand-in."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from nats.js import JetStreamContext

from services.ingest.fake_bigquery import FakeBigQuery, from_rows
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import publish_day
from services.ingest.sources.bigquery import BigQuerySource, CostGuardError, make_client
from services.ingest.sources.raw import RawSource
from services.ingest.sources.rows import DEFAULT_MIRRORS, query_text
from shared.embedded import free_port
from shared.events import DIMENSIONS, Subjects
from tests.integration.ingest.streams import read_stream
from tests.integration.ingest.test_cli import ROOT, ingest
from tests.support.wait import wait_until
from tests.unit.ingest.test_query import JSONL, expected

DAY = dt.date(2024, 3, 4)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeBigQuery, str]]:
    raw = RawSource(JSONL)
    stand_in = FakeBigQuery(answer=lambda _query, params: raw.rows(params["day"]), bytes_processed=5_000)
    runner = web.AppRunner(stand_in.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield stand_in, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def collect(source: BigQuerySource) -> dict[str, dict[str, dict[str, int]]]:
    return {name: counts async for name, counts in source.iter_day(DAY)}


async def test_dry_run_then_query_with_a_date_parameter_read_over_pages(
    fake: tuple[FakeBigQuery, str],
) -> None:
    stand_in, url = fake
    scanned: list[int] = []
    source = BigQuerySource(
        make_client("billing-project", url), max_bytes=10_000, page_rows=4, on_bytes=scanned.append
    )

    assert await collect(source) == expected()

    dry, real = stand_in.query_jobs
    for job in (dry, real):
        query = job["configuration"]["query"]
        assert query["query"] == query_text()
        assert query["useLegacySql"] is False
        params = {p["name"]: p for p in query["queryParameters"]}
        assert params["day"] == {
            "name": "day",
            "parameterType": {"type": "DATE"},
            "parameterValue": {"value": "2024-03-04"},
        }
        assert [v["value"] for v in params["mirrors"]["parameterValue"]["arrayValues"]] == list(
            DEFAULT_MIRRORS
        )
    assert dry["configuration"].get("dryRun") is True
    assert not real["configuration"].get("dryRun")
    assert scanned == [5_000]
    # 69 result rows in pages of 4: eighteen getQueryResults calls, each with maxResults=4
    pages = [r for r in stand_in.requests if "/queries/" in r["path"]]
    assert len(pages) == 18
    assert all(r["query"]["maxResults"] == "4" for r in pages)
    assert [r["query"].get("pageToken") for r in pages] == [None] + [str(k) for k in range(4, 69, 4)]
    assert all(r["path"].startswith("/bigquery/v2/projects/billing-project/") for r in stand_in.requests)


async def test_a_scan_above_the_cap_is_refused_before_any_query_runs(fake: tuple[FakeBigQuery, str]) -> None:
    stand_in, url = fake
    source = BigQuerySource(make_client("p", url), max_bytes=4_999)
    with pytest.raises(CostGuardError, match="5000 bytes"):
        await collect(source)
    [only] = stand_in.query_jobs
    assert only["configuration"]["dryRun"] is True
    assert not stand_in.results  # the real query never ran


async def test_bigquery_day_published_to_jetstream(
    fake: tuple[FakeBigQuery, str], js: JetStreamContext, subjects: Subjects
) -> None:
    _stand_in, url = fake
    metrics = IngestMetrics()
    source = BigQuerySource(
        make_client("p", url), max_bytes=10**12, page_rows=5, on_bytes=metrics.bytes_scanned.inc
    )
    result = await publish_day(js, subjects, source, DAY, metrics=metrics)
    contents = await read_stream(js, subjects)
    assert {e.package: e.counts.model_dump() for e in contents.package_days} == {
        name: {d: counts.get(d, {}) for d in DIMENSIONS}
        for name, counts in expected().items()
    }
    assert result.packages == 4 and result.rows == 69
    assert contents.manifests[0].downloads_with_mirrors == 2 + 2 + 13 + 4
    assert all(e.source == "bigquery" for e in contents.package_days)
    assert metrics.bytes_scanned._value.get() == 5_000


async def test_the_stand_in_runs_as_a_command_and_a_run_reads_through_it(
    service_env: dict[str, str], js: JetStreamContext, subjects: Subjects
) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.ingest", "fake-bigquery", "--port", str(port), "--rows", str(JSONL),
        cwd=ROOT, env=service_env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await wait_until(lambda: _listening(port), timeout=30, what="the fake BigQuery port")
        env = {**service_env, "BIGQUERY_API_ENDPOINT": f"http://127.0.0.1:{port}", "BIGQUERY_PROJECT": "p"}
        code, out, err = await ingest(env, "run", "--day", DAY.isoformat(), "--source", "bigquery")
        assert code == 0, err[-2000:]
        contents = await read_stream(js, subjects)
        assert {e.package for e in contents.package_days} == set(expected())
        assert contents.manifests[0].packages == json.loads(out)["packages"] == len(expected())
    finally:
        proc.terminate()
        _out, err_b = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err_b.decode()[-2000:]


async def _listening(port: int) -> bool:
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


def test_the_stand_in_command_refuses_a_missing_rows_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no file_downloads rows"):
        from_rows(tmp_path / "absent.jsonl")
