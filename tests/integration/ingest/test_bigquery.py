"""The BigQuery source through the real client library against the local REST stand-in."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from nats.js import JetStreamContext

from services.ingest.channels import Outlet
from services.ingest.cost import estimate
from services.ingest.fake_bigquery import FakeBigQuery, from_rows
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import publish_day
from services.ingest.sources.base import SourceError
from services.ingest.sources.bigquery import BigQuerySource, CostGuardError, make_client
from services.ingest.sources.raw import RawSource
from services.ingest.sources.rows import DEFAULT_MIRRORS, first_day_text, query_text
from shared.embedded import free_port
from shared.events import DIMENSIONS, Subjects
from tests.integration.ingest.streams import read_stream, stream_message_count
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
    # 82 result rows (72, and 10 of platform and abi) in pages of 4: 21 getQueryResults calls,
    # each with maxResults=4
    pages = [r for r in stand_in.requests if "/queries/" in r["path"]]
    assert len(pages) == 21
    assert all(r["query"]["maxResults"] == "4" for r in pages)
    assert [r["query"].get("pageToken") for r in pages] == [None] + [str(k) for k in range(4, 82, 4)]
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
    outlet: Outlet, fake: tuple[FakeBigQuery, str], js: JetStreamContext, subjects: Subjects
) -> None:
    _stand_in, url = fake
    metrics = IngestMetrics()
    source = BigQuerySource(
        make_client("p", url), max_bytes=10**12, page_rows=5, on_bytes=metrics.bytes_scanned.inc
    )
    result = await publish_day(outlet, source, DAY, metrics=metrics)
    contents = await read_stream(js, subjects)
    assert {e.package: e.counts.model_dump() for e in contents.package_days} == {
        name: {d: counts.get(d, {}) for d in DIMENSIONS} for name, counts in expected().items()
    }
    assert result.packages == 4 and result.rows == 82
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

        code, out, err = await ingest(env, "first-day", "--source", "bigquery")
        assert code == 0, err[-2000:]
        assert json.loads(out) == {"first_day": "2024-03-03", "source": "bigquery"}
        # the whole history of the export, estimated: one dry run a day at 1 MB each, nothing run
        code, out, err = await ingest(
            env, "backfill", "--start", "first", "--end", "2024-03-05", "--source", "bigquery", "--dry-run",
            "--include-complete", "--no-progress",
        )  # fmt: skip
        assert code == 0, err[-2000:]
        report = json.loads(out)
        assert (report["start"], report["days"], report["bytes"]) == ("2024-03-03", 3, 3_000_000)
        assert report["billed_bytes"] == 3 * 10 * 2**20  # BigQuery's 10 MB minimum per query
        assert "3 days from BigQuery" in err
        assert len((await read_stream(js, subjects)).manifests) == 1  # the dry run published nothing
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


async def test_the_first_day_is_read_from_information_schema_partitions(
    fake: tuple[FakeBigQuery, str],
) -> None:
    stand_in, url = fake
    # what BigQuery lists: rows without a day, an empty partition older than the first real one
    stand_in.partitions = lambda: [
        ("__NULL__", 3), ("__UNPARTITIONED__", 9), ("20160121", 0), ("20160122", 1200), ("20240304", 30),
    ]  # fmt: skip
    source = BigQuerySource(make_client("billing-project", url), max_bytes=10_000)
    assert await asyncio.to_thread(source.first_day) == dt.date(2016, 1, 22)
    [job] = stand_in.query_jobs
    query = job["configuration"]["query"]
    assert query["query"] == first_day_text() and not job["configuration"].get("dryRun")
    assert query["queryParameters"] == [
        {"name": "table", "parameterType": {"type": "STRING"}, "parameterValue": {"value": "file_downloads"}}
    ]
    stand_in.partitions = lambda: [("__NULL__", 3)]
    with pytest.raises(SourceError, match="no partition with rows"):
        await asyncio.to_thread(source.first_day)


async def test_a_range_is_estimated_by_one_dry_run_a_day_and_nothing_runs(
    fake: tuple[FakeBigQuery, str],
) -> None:
    stand_in, url = fake
    stand_in.bytes_for_day = lambda day: day.day * 2**30  # the 9th scans 9 GiB
    source = BigQuerySource(make_client("p", url), max_bytes=10**12)
    days = [dt.date(2024, 5, 9) - dt.timedelta(days=k) for k in range(9)]
    found = await estimate(source, "bigquery", days, usd_per_tib=6.25)
    assert found.per_day == {d: d.day * 2**30 for d in days}
    assert found.bytes == 45 * 2**30 and found.usd == pytest.approx(45 / 1024 * 6.25)
    dry_days = sorted(j["configuration"]["query"]["queryParameters"][0]["parameterValue"]["value"]
                      for j in stand_in.query_jobs if j["configuration"].get("dryRun"))  # fmt: skip
    assert dry_days == sorted(d.isoformat() for d in days) and len(stand_in.query_jobs) == 9
    assert not stand_in.results  # only dry runs: nothing was queried


async def test_a_backfill_over_its_budget_is_refused_and_publishes_nothing(
    fake: tuple[FakeBigQuery, str], service_env: dict[str, str], js: JetStreamContext, subjects: Subjects,
    db: asyncpg.Pool,  # an empty ingest_days: every day of the range is to do
) -> None:  # fmt: skip
    stand_in, url = fake
    stand_in.bytes_for_day = lambda _day: 2**40  # a TiB a day: 6.25 USD each
    env = {**service_env, "BIGQUERY_API_ENDPOINT": url, "BIGQUERY_PROJECT": "p", "BACKFILL_MAX_USD": "10",
           "BIGQUERY_MAX_BYTES": str(2**41), "BACKFILL_AHEAD_DAYS": "0"}  # fmt: skip
    args = (
        "backfill",
        "--start",
        "2024-03-03",
        "--end",
        "2024-03-05",
        "--source",
        "bigquery",
        "--no-progress",
    )
    code, out, err = await ingest(env, *args)
    assert code == 2, err[-2000:]
    assert json.loads(out)["usd"] == 18.75
    assert "about 18.75 USD (3.00 TiB scanned), above the budget of 10.00 USD" in err
    assert "--max-usd 19" in err
    assert await stream_message_count(js, subjects) == 0 and not stand_in.results  # nothing queried

    code, out, err = await ingest(env, *args, "--max-usd", "19")
    assert code == 0, err[-2000:]
    estimate, summary = (json.loads(line) for line in out.splitlines())
    assert (estimate["max_usd"], summary["done"], summary["newest"]) == (19.0, 3, "2024-03-05")
    assert [m.day for m in (await read_stream(js, subjects)).manifests] == [
        dt.date(2024, 3, 5), dt.date(2024, 3, 4), dt.date(2024, 3, 3),
    ]  # fmt: skip
