"""``python -m services.ingest`` as a subprocess against the test's NATS, Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import signal
import sys
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from services.ingest.app import main
from services.ingest.sources.synthetic import SyntheticSource
from shared.embedded import free_port
from shared.events import Subjects
from tests.integration.ingest.streams import read_stream, stream_message_count
from tests.support.wait import wait_until
from tests.unit.ingest.test_query import JSONL

ROOT = Path(__file__).resolve().parents[3]
DAY = dt.date(2024, 3, 4)


async def ingest(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.ingest", *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_run_publishes_a_synthetic_day(
    service_env: dict[str, str], js: JetStreamContext, subjects: Subjects
) -> None:
    env = {**service_env, "SYNTHETIC_PACKAGES": "250", "SYNTHETIC_SEED": "7"}
    code, out, err = await ingest(env, "run", "--day", DAY.isoformat(), "--source", "synthetic")
    assert code == 0, err
    summary = json.loads(out)
    contents = await read_stream(js, subjects)
    assert summary["packages"] == 250 == len(contents.package_days)
    assert contents.rows(summary["run_id"]) == set(SyntheticSource(250, seed=7).expected_rows(DAY))
    assert [m.run_id for m in contents.manifests] == [summary["run_id"]]


async def test_run_raw_source_and_dry_run(
    service_env: dict[str, str], js: JetStreamContext, subjects: Subjects
) -> None:
    env = {**service_env, "RAW_PATH": str(JSONL)}
    code, out, err = await ingest(env, "run", "--day", DAY.isoformat(), "--source", "raw", "--dry-run")
    assert code == 0, err
    assert json.loads(out) == {
        "day": "2024-03-04", "source": "raw", "packages": 4, "rows": 82, "skipped": 0, "downloads_with_mirrors": 21,
    }  # fmt: skip
    assert await stream_message_count(js, subjects) == 0  # a dry run publishes nothing

    code, out, err = await ingest(env, "run", "--day", DAY.isoformat(), "--source", "raw")
    assert code == 0, err
    contents = await read_stream(js, subjects)
    assert sorted(e.package for e in contents.package_days) == [
        "foo-bar",
        "mirror-only",
        "requests",
        "zope-interface",
    ]


def test_bad_arguments_fail_clearly_before_connecting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # in-process: each of these must fail before any server is contacted (NATS_URL points nowhere)
    monkeypatch.setenv("NATS_URL", f"nats://127.0.0.1:{free_port()}")
    monkeypatch.delenv("RAW_PATH", raising=False)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", root.handlers[:])  # main() reconfigures logging: undo after
    monkeypatch.setattr(root, "level", root.level)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--day", "2024-02-30"])
    assert exit_info.value.code == 2
    assert "not a YYYY-MM-DD date" in capsys.readouterr().err
    assert main(["run", "--day", "2024-03-04", "--source", "raw"]) == 2
    assert "RAW_PATH" in capsys.readouterr().err
    assert main(["backfill", "--start", "2024-03-04", "--end", "2024-03-01"]) == 2
    assert "before start" in capsys.readouterr().err


async def test_backfill_publishes_every_day_of_the_range_newest_first(
    service_env: dict[str, str], js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool
) -> None:
    env = {**service_env, "SYNTHETIC_PACKAGES": "40", "BACKFILL_AHEAD_DAYS": "0"}  # no aggregator here
    code, out, err = await ingest(env, "backfill", "--start", "2024-02-28", "--end", "2024-03-01")
    assert code == 0, err
    assert "days: 100%" in err  # the progress bar
    assert "3 days from the synthetic source: 0 bytes to scan, no query cost" in err  # the estimate
    estimate, summary = (json.loads(line) for line in out.splitlines())
    assert (estimate["days"], estimate["bytes"], summary["done"]) == (3, 0, 3)
    contents = await read_stream(js, subjects)
    assert [m.day for m in contents.manifests] == [
        dt.date(2024, 3, 1),
        dt.date(2024, 2, 29),
        dt.date(2024, 2, 28),
    ]
    assert len(contents.package_days) == 120


async def test_serve_fills_the_window_exposes_ops_and_stops_on_sigterm(
    service_env: dict[str, str], js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool
) -> None:
    port = free_port()
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    # two of the four days in the window are already complete: the pass fills the other two and
    # re-ingests the last closed day (resettle 0)
    for day in (yesterday - dt.timedelta(days=1), yesterday - dt.timedelta(days=3)):
        await db.execute(
            "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors)"
            " VALUES ($1, 'old', 'synthetic', 1, 1, 1)",
            day,
        )
    env = {
        **service_env,
        "OPS_PORT": str(port),
        "OPS_HOST": "127.0.0.1",
        "SYNTHETIC_PACKAGES": "30",
        "RETENTION_DAYS": "3",
        "INGEST_RESETTLE_DAYS": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.ingest", "serve",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:

            async def runs_ok() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                        text = await response.text()
                except aiohttp.ClientError:
                    return False
                return 'pypistats_ingest_runs_total{status="ok"} 2.0' in text

            await wait_until(runs_ok, timeout=60, what="two ok runs in /metrics")
            for path in ("/health", "/ready"):
                async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                    assert response.status == 200, await response.text()
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
            samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
            assert samples["pypistats_ingest_package_days_published_total"] == 60
            midnight = dt.datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=dt.UTC)
            assert samples["pypistats_ingest_last_success_day_timestamp_seconds"] == midnight.timestamp()
        contents = await read_stream(js, subjects)
        assert sorted(m.day for m in contents.manifests) == [yesterday - dt.timedelta(days=2), yesterday]
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
