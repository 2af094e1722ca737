import datetime as dt

import asyncpg

from shared.db.migrate import load_migrations, migrate
from shared.db.partitions import drop_partitions_before, ensure_partitions, retention_cutoff
from tests.support.servers import unique_name, with_database


async def test_migrations_apply_on_empty_database_and_second_run_applies_nothing(servers) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("pypistats_mig_")
    admin = await asyncpg.connect(servers.postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(servers.postgres_url, name)
        first = await migrate(url)
        assert first == [m.version for m in load_migrations()]
        conn = await asyncpg.connect(url)
        schema_before = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY 1, 2"
        )
        assert await migrate(url) == []
        schema_after = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY 1, 2"
        )
        assert schema_after == schema_before
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(first)
        await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_partitions_created_ahead_and_dropped_by_retention(db: asyncpg.Pool) -> None:
    start = dt.date(2026, 1, 1)
    assert await ensure_partitions(db, start, start + dt.timedelta(days=9)) == 20
    assert await ensure_partitions(db, start, start + dt.timedelta(days=9)) == 0
    await db.execute(
        "INSERT INTO daily_downloads VALUES ($1, 'a', 'overall', 'with_mirrors', 5), ($2, 'a', 'overall', 'with_mirrors', 7)",
        start,
        start + dt.timedelta(days=9),
    )
    cutoff = retention_cutoff(start + dt.timedelta(days=9), 3)
    assert cutoff == start + dt.timedelta(days=6)
    assert await drop_partitions_before(db, cutoff) == 12
    assert await db.fetchval("SELECT sum(downloads) FROM daily_downloads") == 7
    # inserting into a dropped day fails loudly rather than landing somewhere else
    try:
        await db.execute("INSERT INTO daily_downloads VALUES ($1, 'a', 'overall', 'with_mirrors', 5)", start)
    except asyncpg.PostgresError as exc:
        assert "no partition" in str(exc)
    else:
        raise AssertionError("insert into a dropped partition succeeded")
    await drop_partitions_before(db, dt.date(2100, 1, 1))
