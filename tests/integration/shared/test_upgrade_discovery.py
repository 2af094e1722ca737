"""Migration 0013 on a database with history: the days still open (after every compacted month,
within the last 56) get their trend rows, each package-day's downloads and CI downloads exactly,
and are marked recorded; days inside compacted months are not (trending waits for 56 days)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from shared.db.compaction import compact_due
from shared.db.migrate import migrate
from tests.support.seed import package_rows, with_all, write_rows
from tests.support.servers import unique_name, with_database

LAST = dt.date(2026, 6, 30)
DAYS = 70  # April 22 to June 30: April and May compacted, June open


@pytest.fixture
async def database(servers: Any) -> AsyncIterator[str]:
    name = unique_name("pypistats_upgrade13_")
    admin = await asyncpg.connect(servers.postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')  # generated name
    try:
        url = with_database(servers.postgres_url, name)
        await migrate(url, target=12)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_open_days_are_recorded(database: str) -> None:
    rows = package_rows("requests", 100, LAST, DAYS) + package_rows("django", 7, LAST, 20)
    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    assert pool is not None
    try:
        await write_rows(pool, with_all(rows))
        days = sorted({r[0] for r in rows})
        await pool.executemany(
            "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors) VALUES ($1, 'seed', 'seed', 1, 1, 1)",
            [(d,) for d in days],
        )
        await compact_due(pool, LAST)
        assert await pool.fetchval("SELECT max(month) FROM downloads_months") == dt.date(2026, 5, 1)
        assert await migrate(database) == [13]
        found = {
            (r["day"], r["package"]): (r["downloads"], r["ci"])
            for r in await pool.fetch("SELECT * FROM trend_days")
        }
        expected = {}
        for day, package, dimension, category, n in rows:
            if day >= dt.date(2026, 6, 1):
                downloads, ci = expected.get((day, package), (0, 0))
                if (dimension, category) == ("overall", "without_mirrors"):
                    downloads = n
                if (dimension, category) == ("ci", "true"):
                    ci = n
                expected[(day, package)] = (downloads, ci)
        assert found == expected and all(ci > 0 for _, ci in found.values())
        done = [r["day"] for r in await pool.fetch("SELECT day FROM trend_days_done ORDER BY day")]
        assert done == [d for d in days if d >= dt.date(2026, 6, 1)]
    finally:
        await pool.close()
