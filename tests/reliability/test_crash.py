"""SIGKILL in the middle of a day, and two aggregators at once: the rows equal the source exactly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg
import pytest
from nats.js import JetStreamContext

from services.ingest.channels import Outlet
from services.ingest.publisher import publish_day
from services.ingest.sources.synthetic import SyntheticSource
from shared.events import Subjects
from tests.reliability.support import (
    AggregatorProcess,
    aggregators,
    completed,
    expected,
    package_days,
    stored,
    with_all,
)
from tests.support.wait import wait_until

DAY = dt.date(2024, 6, 3)
pytestmark = pytest.mark.slow


async def test_sigkill_mid_day_then_restart_is_exact(
    outlet: Outlet,
    db: asyncpg.Pool,
    js: JetStreamContext,
    subjects: Subjects,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    source = SyntheticSource(3000, seed=11)
    run = await publish_day(outlet, source, DAY)
    first = AggregatorProcess(service_env, tmp_path, "first", BATCH_SIZE="50")
    with aggregators(first):
        await wait_until(lambda: _at_least(package_days(db, DAY), 600), timeout=60, what="part of the day")
        first.kill()
    assert not await completed(db, DAY, run.run_id), "the day finished before the kill: make it bigger"
    second = AggregatorProcess(service_env, tmp_path, "second")
    with aggregators(second):
        await wait_until(lambda: completed(db, DAY, run.run_id), timeout=60, what="the day to complete")
    want = expected(source.expected_rows(DAY))
    assert await stored(db, DAY) == with_all(want)
    totals = source.expected_totals(DAY)
    assert (
        await db.fetchval(
            "SELECT downloads FROM daily_downloads WHERE day = $1 AND package = '__all__'"
            " AND dimension = 'overall' AND category = 'with_mirrors'",
            DAY,
        )
        == totals["with_mirrors"]
    )
    assert await package_days(db, DAY) == run.packages


async def _at_least(awaitable, n: int) -> bool:  # type: ignore[no-untyped-def]
    return bool(await awaitable >= n)


async def test_two_aggregators_share_the_consumer_exactly(
    outlet: Outlet,
    db: asyncpg.Pool,
    js: JetStreamContext,
    subjects: Subjects,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    source = SyntheticSource(3000, seed=12)
    one = AggregatorProcess(service_env, tmp_path, "one", BATCH_SIZE="100")
    two = AggregatorProcess(service_env, tmp_path, "two", BATCH_SIZE="100")
    with aggregators(one, two):
        await wait_until(one.ready, timeout=30, what="first aggregator ready")
        await wait_until(two.ready, timeout=30, what="second aggregator ready")
        run = await publish_day(outlet, source, DAY)
        await wait_until(lambda: completed(db, DAY, run.run_id), timeout=60, what="the day to complete")
        written = [await p.metric("pypistats_aggregator_rows_written_total") for p in (one, two)]
    want = expected(source.expected_rows(DAY))
    assert await stored(db, DAY) == with_all(want)
    assert sum(written) >= len(want)  # together they wrote every row (redeliveries may add more)
