"""The in-place upgrade to the history store: package-days written by the month-partitioned
layout (migrations 0006-0008) move to ``downloads_days``, in batches, resumably.

The database is migrated to version 8, filled the way the previous release's aggregator wrote it
(packed rows in month partitions, every dimension, runs and sequences), then ``migrate`` runs the
0009 move in small batches; a crash in the middle is resumed by the next run. Meanwhile the
previous release's readers still answer from the old table, and its writers are refused. The end
state equals the old rows exactly, and the new readers show the same series.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from shared import series
from shared.db import upgrade_history
from shared.db.compaction import compact_due
from shared.db.layout import Dictionary, Runs, categories_of, encode
from shared.db.migrate import migrate
from tests.support.seed import package_rows
from tests.support.servers import unique_name, with_database

LAST = dt.date(2026, 3, 10)
DAYS = 75  # late December .. March 10: three month partitions, January due for compaction after
PACKAGES = [f"pkg-{i:02d}" for i in range(40)]
#: The previous release's reader of /overall and of the package page (shared/series.py at version 8).
PREVIOUS_OVERALL = """
SELECT day, with_mirrors, without_mirrors FROM downloads
WHERE package = $1 AND day >= visible_from($2) AND day <= $3
ORDER BY day
"""
OLD_ROWS = "SELECT seq, with_mirrors, without_mirrors, day, run, package, cells, details, versions FROM downloads"
NEW_ROWS = "SELECT seq, with_mirrors, without_mirrors, day, run, package, cells, details, versions FROM downloads_days"


def frozen(rows: list[asyncpg.Record]) -> set[tuple[Any, ...]]:
    return {tuple(tuple(v) if isinstance(v, list) else v for v in r) for r in rows}


@pytest.fixture
async def old_database(servers: Any) -> AsyncIterator[str]:
    name = unique_name("pypistats_upgrade9_")
    admin = await asyncpg.connect(servers.postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')  # generated name
    try:
        url = with_database(servers.postgres_url, name)
        assert await migrate(url, target=8) == [1, 2, 3, 4, 5, 6, 7, 8]
        yield url
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def write_month_layout(conn: asyncpg.Connection) -> None:
    """What the previous release's aggregator left: packed package-days, runs, complete days."""
    first = LAST - dt.timedelta(days=DAYS - 1)
    await conn.execute("SELECT ensure_month_partitions('downloads', $1, $2)", first, LAST)
    by_key: dict[tuple[dt.date, str], list[tuple[str, str, int]]] = {}
    for i, package in enumerate(PACKAGES):
        for day, p, dimension, category, n in package_rows(package, 20 + i, LAST, DAYS):
            by_key.setdefault((day, p), []).append((dimension, category, n))
    ids = await Dictionary().ids(conn, {k for rows in by_key.values() for k in categories_of(rows)})
    runs = Runs()
    records = []
    for seq, ((day, package), rows) in enumerate(sorted(by_key.items()), start=1):
        p = encode(rows, ids)
        run = await runs.id(conn, f"run-{day}")
        records.append((seq, p.with_mirrors, p.without_mirrors, day, run, package, p.cells, p.details, p.versions))
    await conn.copy_records_to_table(
        "downloads",
        records=records,
        columns=["seq", "with_mirrors", "without_mirrors", "day", "run", "package", "cells", "details", "versions"],
    )
    await conn.executemany(
        "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors) VALUES ($1, $2, 't', 40, 0, 0)",
        [(first + dt.timedelta(days=k), f"run-{first + dt.timedelta(days=k)}") for k in range(DAYS)],
    )


async def test_upgrade_moves_every_package_day_resumes_and_old_readers_answer(
    old_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = await asyncpg.connect(old_database)
    try:
        await write_month_layout(conn)
        old = frozen(await conn.fetch(OLD_ROWS))
        assert len(old) == DAYS * len(PACKAGES)
        previous = await conn.fetch(PREVIOUS_OVERALL, "pkg-03", dt.date.min, dt.date.max)

        monkeypatch.setattr(upgrade_history, "BATCH_ROWS", 300)  # about ten batches a month
        real = conn.execute
        batches = 0

        async def crash_on_the_sixth(self: asyncpg.Connection, query: str, *args: Any) -> str:
            nonlocal batches
            if query == upgrade_history.COPY_BATCH:
                batches += 1
                if batches == 6:
                    raise ConnectionResetError("killed in the middle of the move")
            return await real.__func__(self, query, *args)  # type: ignore[attr-defined,no-any-return]

        monkeypatch.setattr(asyncpg.connection.Connection, "execute", crash_on_the_sixth)
        with pytest.raises(ConnectionResetError):
            await migrate(old_database)
        monkeypatch.undo()

        state = await conn.fetchrow("SELECT done, moved FROM schema_upgrades WHERE version = 9")
        assert not state["done"] and 0 < state["moved"] < len(old)  # five batches committed
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 9
        # the previous release's readers still answer, with every number, during the move ...
        assert await conn.fetch(PREVIOUS_OVERALL, "pkg-03", dt.date.min, dt.date.max) == previous
        # ... and its writers are refused, so nothing is written behind the move
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("DELETE FROM downloads WHERE day = $1", LAST)

        assert await migrate(old_database) == [10, 11]  # resumed after the committed batches
        assert frozen(await conn.fetch(NEW_ROWS)) == old
        assert await conn.fetchval("SELECT moved FROM schema_upgrades WHERE version = 9") == len(old)
        assert await conn.fetchval("SELECT to_regclass('downloads')") is None

        # the new readers show the same series, before and after the aggregator compacts
        before = await series.series_window(conn, Dictionary(), "pkg-03", None, None)
        assert [(p.day, p.downloads) for p in before["overall"] if p.category == "with_mirrors"] == [
            (r["day"], r["with_mirrors"]) for r in previous
        ]
        pool = await asyncpg.create_pool(old_database, min_size=1, max_size=2)
        try:
            assert [c.month for c in await compact_due(pool, LAST)] == [dt.date(2025, 12, 1), dt.date(2026, 1, 1)]
        finally:
            await pool.close()
        assert await series.series_window(conn, Dictionary(), "pkg-03", None, None) == before
    finally:
        await conn.close()
