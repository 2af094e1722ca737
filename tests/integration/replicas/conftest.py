"""Fixtures of the read-replica tests: a primary and a streaming replica of their own.

The run's shared PostgreSQL cannot be reconfigured (``wal_level``, a standby), so this module
makes its own pair with tests.support.replication: on a fresh machine the binaries of the
``pgserver`` package are enough. Missing binaries fail the run under ``CI=true`` and skip it
elsewhere, with the reason (tests.support.environment).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from shared.db.migrate import migrate
from tests.support.environment import missing
from tests.support.replication import MissingBinaries, ReplicatedCluster, start_replicated_cluster
from tests.support.servers import with_database
from tests.support.wait import wait_until

DATABASE = "pypistats"


@dataclass(frozen=True)
class Pair:
    """URLs of the migrated database on the primary and on its replica."""

    cluster: ReplicatedCluster
    primary_url: str
    replica_url: str


async def replayed(cluster: ReplicatedCluster, primary_url: str) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    primary = await asyncpg.connect(primary_url)
    replica = await asyncpg.connect(cluster.replica.url)
    try:
        lsn = await primary.fetchval("SELECT pg_current_wal_lsn()")

        async def caught_up() -> bool:
            return bool(await replica.fetchval("SELECT pg_last_wal_replay_lsn()") >= lsn)

        await wait_until(caught_up, timeout=20, what="the replica to replay the migrations")
    finally:
        await replica.close()
        await primary.close()


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    try:
        cluster = start_replicated_cluster()
    except MissingBinaries as exc:
        missing("PostgreSQL binaries for a primary and a streaming replica", str(exc))
    try:
        primary_url = with_database(cluster.primary.url, DATABASE)

        async def create() -> None:
            admin = await asyncpg.connect(cluster.primary.url)
            try:
                await admin.execute(f'CREATE DATABASE "{DATABASE}"')  # a constant, not input
            finally:
                await admin.close()
            await migrate(primary_url)
            await replayed(cluster, primary_url)

        asyncio.run(create())
        yield Pair(cluster, primary_url, with_database(cluster.replica.url, DATABASE))
    finally:
        cluster.stop()
