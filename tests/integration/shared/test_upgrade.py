"""The in-place upgrade: rows written by the day-partitioned layout move to the packed one.

The database is migrated to version 5 (the old layout), filled the way the old aggregator wrote
it, then ``migrate`` runs the 0006 move in small batches; a crash in the middle of the move is
resumed by the next run, and the end state equals the old rows exactly, bookkeeping included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from shared.db import upgrade
from shared.db.migrate import migrate
from tests.support.seed import package_rows, with_all
from tests.support.servers import unique_name, with_database

DAYS = (dt.date(2026, 1, 30), dt.date(2026, 1, 31), dt.date(2026, 2, 1))
PACKAGES = [f"pkg-{i:02d}" for i in range(30)]


@pytest.fixture
async def old_database(servers: Any) -> AsyncIterator[str]:
    name = unique_name("pypistats_upgrade_")
    admin = await asyncpg.connect(servers.postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')  # generated name
    try:
        url = with_database(servers.postgres_url, name)
        assert await migrate(url, target=5) == [1, 2, 3, 4, 5]
        yield url
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def write_old_layout(url: str) -> set[tuple[dt.date, str, str, str, int]]:
    """What the previous release's aggregator left: rows, bookkeeping, complete days."""
    # the day-partitioned layout never held the dimensions that came after it (version, installer, ...)
    old = {"overall", "python_major", "python_minor", "system"}
    rows = with_all(
        r for i, p in enumerate(PACKAGES) for r in package_rows(p, 50 + i, DAYS[-1], len(DAYS)) if r[2] in old
    )
    conn = await asyncpg.connect(url)
    try:
        for table in ("daily_downloads", "package_days"):
            await conn.execute("SELECT ensure_day_partitions($1, $2, $3)", table, DAYS[0], DAYS[-1])
        await conn.copy_records_to_table(
            "daily_downloads", records=rows, columns=["day", "package", "dimension", "category", "downloads"]
        )
        books = [
            (day, package, f"run-{day}", 10_000 * d + i)
            for d, day in enumerate(DAYS)
            for i, package in enumerate(PACKAGES)
            if (day, package) != (DAYS[1], "pkg-07")  # one package-day written by hand, no bookkeeping
        ]
        await conn.executemany(
            "INSERT INTO package_days (day, package, run_id, rows, seq) VALUES ($1, $2, $3, 18, $4)", books
        )
        await conn.executemany(
            "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors)"
            " VALUES ($1, $2, 'test', 30, 0, 0)",
            [(day, f"run-{day}") for day in DAYS],
        )
    finally:
        await conn.close()
    return set(rows)


async def test_upgrade_moves_every_row_in_batches_and_resumes_after_a_crash(
    old_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await write_old_layout(old_database)
    monkeypatch.setattr(upgrade, "BATCH_ROWS", 100)  # a few dozen batches
    real = upgrade._move_batch
    batches = 0

    async def crash_on_the_fifth(*args: Any) -> int:
        nonlocal batches
        batches += 1
        if batches == 5:
            raise ConnectionResetError("killed in the middle of the move")
        return await real(*args)

    monkeypatch.setattr(upgrade, "_move_batch", crash_on_the_fifth)
    with pytest.raises(ConnectionResetError):
        await migrate(old_database)
    conn = await asyncpg.connect(old_database)
    try:
        state = await conn.fetchrow("SELECT done, moved FROM schema_upgrades WHERE version = 6")
        assert not state["done"] and state["moved"] > 0
        # the previous release's readers still find every old row while the move goes on
        assert await conn.fetchval("SELECT count(*) FROM daily_downloads") == len(expected)
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 6

        assert await migrate(old_database) == [7, 8, 9, 10, 11]  # resumed after the four committed batches
        assert batches > 8

        moved = await conn.fetch("SELECT day, package, dimension, category, downloads FROM daily_downloads")
        assert {tuple(r) for r in moved} == expected
        assert len(moved) == len(expected)
        assert await conn.fetchval("SELECT count(*) FROM downloads_days") == len(DAYS) * len(PACKAGES)
        assert await conn.fetchval("SELECT moved FROM schema_upgrades WHERE version = 6") == len(DAYS) * len(PACKAGES)
        books = await conn.fetchrow(
            "SELECT d.seq, r.run_id FROM downloads_days d JOIN ingest_runs r ON r.id = d.run"
            " WHERE d.day = $1 AND d.package = 'pkg-03'",
            DAYS[2],
        )
        assert (books["seq"], books["run_id"]) == (20_003, f"run-{DAYS[2]}")
        hand = await conn.fetchrow(
            "SELECT d.seq, r.run_id FROM downloads_days d JOIN ingest_runs r ON r.id = d.run"
            " WHERE d.day = $1 AND d.package = 'pkg-07'",
            DAYS[1],
        )
        assert (hand["seq"], hand["run_id"]) == (0, upgrade.UNKNOWN_RUN)
        assert await conn.fetchval("SELECT count(*) FROM downloads_all") == len(DAYS)
        assert await conn.fetchval("SELECT to_regclass('legacy_package_days')") is None
        assert await conn.fetchval("SELECT relkind FROM pg_class WHERE relname = 'daily_downloads'") == b"v"
        assert await migrate(old_database) == []
    finally:
        await conn.close()
