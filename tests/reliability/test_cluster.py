"""A three-node JetStream cluster loses a node (SIGKILL) in the middle of a day: nothing is lost.

Three real nats-server processes form one cluster; the streams keep three replicas
(``STREAM_REPLICAS=3``). ``ingest run`` publishes a 20k-package synthetic day while one aggregator
consumes it, both given every node in ``NATS_URL``. The node the aggregator is connected to is
killed with SIGKILL part-way and started again later. The day must land exactly (every row, the
``__all__`` totals), nothing may be dead-lettered, and both services must have carried on through
the surviving nodes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from services.ingest.sources.synthetic import SyntheticSource
from shared.events import Subjects
from shared.messaging import StreamPolicy, connect, ensure_streams
from tests.reliability.cluster import Cluster, Node
from tests.reliability.support import AggregatorProcess, aggregators, completed, expected, stored, with_all
from tests.support.wait import wait_until

DAY = dt.date(2024, 10, 7)
PACKAGES = 20_000
SEED = 71
pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    nodes = Cluster.start(tmp_path / "cluster")
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
async def client(cluster: Cluster, subjects: Subjects) -> AsyncIterator[NatsClient]:
    """The test's own connection; the streams exist with three replicas once the cluster has a leader."""
    nc = await connect(cluster.url, name="test")
    js = nc.jetstream(timeout=5)

    async def created() -> bool:
        try:
            await ensure_streams(js, subjects, StreamPolicy(retention_days=180, replicas=3))
        except Exception:  # no JetStream meta leader elected yet
            return False
        return True

    await wait_until(created, timeout=60, interval=0.5, what="JetStream of the cluster to create the streams")
    try:
        yield nc
    finally:
        await nc.close()


async def test_a_node_killed_mid_day_loses_nothing(
    cluster: Cluster,
    client: NatsClient,
    db: asyncpg.Pool,
    subjects: Subjects,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    js = client.jetstream(timeout=5)
    for name in (subjects.downloads_stream, subjects.rollups_stream, subjects.dead_stream):
        info = await js.stream_info(name)
        assert info.config.num_replicas == 3 and info.cluster is not None
        assert len(info.cluster.replicas or []) == 2, f"{name} is not replicated on the other two nodes"
    env = {**service_env, "NATS_URL": cluster.url, "STREAM_REPLICAS": "3"}
    proc = AggregatorProcess(env, tmp_path, BATCH_SIZE="500")
    seen: dict[str, set[str]] = {"aggregator": set(), "ingest": set()}
    with aggregators(proc):
        await wait_until(proc.ready, timeout=60, what="aggregator ready")
        victim = await wait_until(lambda: _node_of(cluster, "aggregator"), what="the aggregator's node")
        survivors = [n for n in cluster.nodes if n is not victim]
        ingest = _ingest(env, tmp_path)
        watching = asyncio.create_task(_watch(survivors, seen))
        try:
            await wait_until(lambda: _stored_at_least(js, subjects, 3000), timeout=90, what="part of the day")
            victim.kill()
            assert not await db.fetchval("SELECT count(*) FROM ingest_days WHERE day = $1", DAY), "too late"
            # both carry on through the nodes left: the aggregator consumes, ingest publishes
            more = min(await _stored(js, subjects) + 1000, PACKAGES + 1)
            await wait_until(
                lambda: _stored_at_least(js, subjects, more), timeout=90, what="publishing to go on"
            )
            await wait_until(
                lambda: _has(seen, "aggregator"), timeout=60, what="the aggregator on a survivor"
            )
            cluster.restart(victim)
            code = await asyncio.to_thread(ingest.wait, 120)
            assert code == 0, _text(tmp_path / "ingest.log")[-3000:]
            run_id = _run_id(tmp_path / "ingest.log")
            await wait_until(lambda: completed(db, DAY, run_id), timeout=90, what="the day to complete")
        finally:
            watching.cancel()
            if ingest.poll() is None:
                ingest.kill()
    source = SyntheticSource(PACKAGES, seed=SEED)
    assert await stored(db, DAY) == with_all(expected(source.expected_rows(DAY)))
    assert (await js.stream_info(subjects.dead_stream)).state.messages == 0, "something was dead-lettered"
    assert seen["aggregator"] and seen["ingest"], f"not seen on a surviving node: {seen}"
    assert victim.alive()


def _ingest(env: dict[str, str], tmp_path: Path) -> subprocess.Popen[bytes]:
    log = open(tmp_path / "ingest.log", "ab")
    ingest = subprocess.Popen(
        [sys.executable, "-m", "services.ingest", "run", "--day", DAY.isoformat(), "--source", "synthetic"],
        env={**env, "SYNTHETIC_PACKAGES": str(PACKAGES), "SYNTHETIC_SEED": str(SEED)},
        stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    log.close()
    return ingest


async def _node_of(cluster: Cluster, name: str) -> Node | None:
    return await asyncio.to_thread(cluster.node_of, name)


async def _watch(survivors: list[Node], seen: dict[str, set[str]]) -> None:
    """Record, until cancelled, on which surviving node each service is seen connected."""
    while True:
        for node in survivors:
            for name in await asyncio.to_thread(node.client_names):
                if name in seen:
                    seen[name].add(node.name)
        await asyncio.sleep(0.2)


async def _has(seen: dict[str, set[str]], name: str) -> bool:
    return bool(seen[name])


async def _stored(js, subjects: Subjects) -> int:  # type: ignore[no-untyped-def]
    try:
        return int((await js.stream_info(subjects.downloads_stream)).state.messages)
    except Exception:  # the stream is electing a new leader
        return 0


async def _stored_at_least(js, subjects: Subjects, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await _stored(js, subjects) >= n


def _run_id(log: Path) -> str:
    for line in reversed(log.read_text().splitlines()):
        if '"run_id"' in line and line.startswith("{"):
            return str(json.loads(line)["run_id"])
    raise AssertionError(f"no run id in the ingest output:\n{log.read_text()[-2000:]}")


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
