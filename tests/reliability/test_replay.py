"""Replaying a day (twice) and re-ingesting it with corrected counts converge to the expected rows."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import asyncpg
import pyarrow.parquet as pq
import pytest
from nats.js import JetStreamContext

from services.ingest.channels import Outlet
from services.ingest.publisher import publish_day
from services.ingest.sources.synthetic import SyntheticSource
from shared import rollups
from shared.events import Subjects
from tests.reliability.support import AggregatorProcess, aggregators, completed, expected, stored, with_all
from tests.support.wait import wait_until

DAY = dt.date(2024, 9, 2)
PREVIOUS = DAY - dt.timedelta(days=1)
pytestmark = pytest.mark.slow

ROLLUP_TABLES = "downloads_days, downloads_months, downloads_all, retention_state, recent_downloads, package_index, ingest_days"


def replay(env: dict[str, str], start: dt.date, end: dt.date) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.aggregator", "replay", "--start", str(start), "--end", str(end)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


async def snapshot(db: asyncpg.Pool) -> tuple[object, ...]:
    return (
        await stored(db, PREVIOUS),
        await stored(db, DAY),
        sorted(tuple(r) for r in await db.fetch("SELECT * FROM recent_downloads")),
        sorted(tuple(r) for r in await db.fetch("SELECT package, first_day, last_day FROM package_index")),
        sorted(tuple(r) for r in await db.fetch("SELECT day, run_id, packages, rows FROM ingest_days")),
    )


async def test_corrected_reingest_then_replay_twice_converge(
    outlet: Outlet,
    db: asyncpg.Pool,
    js: JetStreamContext,
    subjects: Subjects,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    before = SyntheticSource(800, seed=31)
    original = SyntheticSource(1200, seed=32)
    corrected = SyntheticSource(900, seed=33)  # other counts, and 300 packages fewer
    proc = AggregatorProcess(service_env, tmp_path, BATCH_SIZE="200")
    with aggregators(proc):
        await wait_until(proc.ready, timeout=30, what="aggregator ready")
        prev_run = await publish_day(outlet, before, PREVIOUS)
        first = await publish_day(outlet, original, DAY)
        await wait_until(lambda: completed(db, DAY, first.run_id), timeout=60, what="first run")
        second = await publish_day(outlet, corrected, DAY)
        await wait_until(lambda: completed(db, DAY, second.run_id), timeout=60, what="corrected run")
        await wait_until(lambda: completed(db, PREVIOUS, prev_run.run_id), timeout=60, what="previous day")
    want = with_all(expected(corrected.expected_rows(DAY)))
    assert await stored(db, DAY) == want
    assert await stored(db, PREVIOUS) == with_all(expected(before.expected_rows(PREVIOUS)))
    packages = {k[0] for k in want} | {k[0] for k in expected(before.expected_rows(PREVIOUS))}
    assert await rollups.count_packages(db) == len(packages - {"__all__"})
    live = await snapshot(db)

    await db.execute("TRUNCATE " + ROLLUP_TABLES)
    exports = tmp_path / "exports"  # the replayed days are exported before replay exits
    stamps = []
    for attempt in range(2):
        done = replay({**service_env, "EXPORT_DIR": str(exports)}, PREVIOUS, DAY)
        assert done.returncode == 0, done.stderr[-3000:]
        assert await snapshot(db) == live, f"replay {attempt + 1} differs from the live result"
        for day in (PREVIOUS, DAY):
            table = pq.read_table(exports / f"{day}.parquet").to_pylist()
            found = {(r["package"], r["dimension"], r["category"]): r["downloads"] for r in table}
            assert found == {k: n for k, n in (await stored(db, day)).items() if k[0] != "__all__"}
        stamps.append([(exports / f"{day}.parquet").stat().st_mtime_ns for day in (PREVIOUS, DAY)])
    assert stamps[0] == stamps[1]  # the second replay completed nothing new: nothing rewritten
    assert "replay" in done.stderr  # the progress bar
    assert await completed(db, DAY, second.run_id)
