import datetime as dt

import asyncpg

from shared.db.migrate import load_migrations, migrate
from shared.db.partitions import drop_partitions_before, ensure_partitions, retention_cutoff
from shared.db.pool import ReaderConnection, create_pool
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


async def test_year_partitions_created_ahead_and_dropped_whole(db: asyncpg.Pool) -> None:
    start = dt.date(2024, 12, 30)
    assert await ensure_partitions(db, start, dt.date(2026, 1, 2)) == 3  # 2024, 2025, 2026
    assert await ensure_partitions(db, start, dt.date(2026, 1, 2)) == 0
    insert = "INSERT INTO downloads_months VALUES ($1, $2, 0, 1, 'a', '', '', '', '')"
    for month, n in ((dt.date(2024, 12, 1), 5), (dt.date(2025, 6, 1), 7), (dt.date(2026, 1, 1), 11)):
        await db.execute(insert, month, n)
    # a cutoff inside 2025 drops 2024 only: 2025's months stay until all of its days expire
    assert await drop_partitions_before(db, dt.date(2025, 7, 20)) == 1
    assert await db.fetchval("SELECT sum(with_mirrors) FROM downloads_months") == 18
    assert await drop_partitions_before(db, dt.date(2026, 1, 1)) == 1
    assert await db.fetchval("SELECT sum(with_mirrors) FROM downloads_months") == 11
    # inserting into a dropped year fails loudly rather than landing somewhere else
    try:
        await db.execute(insert, dt.date(2024, 12, 1), 5)
    except asyncpg.PostgresError as exc:
        assert "no partition" in str(exc)
    else:
        raise AssertionError("insert into a dropped partition succeeded")
    assert retention_cutoff(dt.date(2026, 3, 1), 3) == dt.date(2026, 2, 26)
    assert retention_cutoff(dt.date(2026, 3, 1), None) == dt.date.min
    await drop_partitions_before(db, dt.date(2100, 1, 1))


async def test_a_reader_connection_goes_back_without_the_reset_round_trip_but_never_in_a_transaction(
    database_url: str,
) -> None:
    """shared.db.pool.ReaderConnection: release sends no reset query (one round trip less per
    request), and a transaction left open by a cancelled request is still rolled back."""
    pool = await create_pool(database_url, max_size=1, connection_class=ReaderConnection)
    sent: list[str] = []
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda record: sent.append(record.query))
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE left_behind (x int) ON COMMIT DROP")
            assert conn.is_in_transaction()
        async with pool.acquire() as conn:  # the same connection: max_size=1
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_behind')") is None
            await conn.fetchval("SELECT 1")
        async with pool.acquire() as conn:
            pass
    finally:
        await pool.close()
    assert "ROLLBACK" in sent
    assert not [q for q in sent if "RESET ALL" in q or "UNLISTEN" in q], sent
