"""Chaos on a three-node JetStream cluster: a node killed at random moments of a multi-day backfill.

Three real nats-server processes, every stream with three replicas. ``ingest backfill`` publishes
several synthetic days while one aggregator consumes them, both given every node in ``NATS_URL``.
A generator seeded with ``CHAOS_SEED`` (printed; set it to replay a failure) draws, for each round,
a moment (during stream setup, mid-publish, mid-fetch, during a day's completion) and a victim
(the downloads stream's leader, the durable consumer's leader, the JetStream meta leader, the
node the aggregator or ingest is connected to, any node). The victim is killed with SIGKILL at that
moment, restarted after a drawn while, and the cluster is let heal before the next round, so no
more than one node is ever down. In the end: the backfill exits 0, every day holds exactly the
source's rows and ``__all__`` totals, nothing was dead-lettered, and every package-day and manifest
was stored once (the retries kept their message ids).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from services.aggregator.channels import durable_name
from services.ingest.sources.synthetic import SyntheticSource
from shared.events import Subjects
from shared.messaging import connect
from tests.reliability.cluster import Cluster, Node
from tests.reliability.support import AggregatorProcess, aggregators, completed, expected, stored, with_all
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
PACKAGES = 1200
DAYS = 14
ROUNDS = 5
SYNTHETIC_SEED = 5
MOMENTS = ("publish", "fetch", "completion")
VICTIMS = (
    "stream leader",
    "consumer leader",
    "meta leader",
    "aggregator's node",
    "ingest's node",
    "any node",
)
STARTED = [0.0]
#: A moment not reached within this is taken as it comes (the day may be done already).
MOMENT_WAIT_S = 20.0


def chaos_seed() -> int:
    """``CHAOS_SEED`` from the environment, else a fresh one (printed either way)."""
    return int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 2**31))


@dataclass
class Round:
    moment: str
    victim: str
    after_s: float  # from the moment's trigger to the kill
    down_s: float  # how long the node stays down
    fraction: float  # how far into a day's publish or fetch the moment is


def draw(rng: random.Random) -> list[Round]:
    rounds = [Round("stream setup", rng.choice(("meta leader", "any node")), rng.uniform(0, 0.6),
                    rng.uniform(1.0, 3.0), 0.0)]  # fmt: skip
    for _ in range(ROUNDS - 1):
        rounds.append(
            Round(rng.choice(MOMENTS), rng.choice(VICTIMS), rng.uniform(0, 0.5), rng.uniform(1.0, 3.0),
                  rng.uniform(0.1, 0.9))
        )  # fmt: skip
    return rounds


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    nodes = Cluster.start(tmp_path / "cluster")
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[NatsClient]:
    nc = await connect(cluster.url, name="test")
    try:
        yield nc
    finally:
        await nc.close()


class Watch:
    """What the test reads to find a moment and a victim; every read tolerates an election."""

    def __init__(self, cluster: Cluster, js: JetStreamContext, db: asyncpg.Pool, subjects: Subjects) -> None:
        self.cluster, self.js, self.db, self.subjects = cluster, js, db, subjects
        self.durable = durable_name(subjects.namespace, "aggregator")

    async def stored(self, subjects_filter: str | None = None) -> int:
        try:
            info = await self.js.stream_info(self.subjects.downloads_stream, subjects_filter=subjects_filter)
        except Exception:
            return -1
        if subjects_filter is None:
            return int(info.state.messages)
        return sum((info.state.subjects or {}).values())

    async def committed(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM downloads_days"))

    async def complete_days(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM ingest_days"))

    async def victim(self, kind: str, rng: random.Random) -> Node:
        found: Node | None = None
        try:
            if kind == "stream leader":
                info = await self.js.stream_info(self.subjects.downloads_stream)
                found = self.cluster.node(info.cluster.leader if info.cluster else None)
            elif kind == "consumer leader":
                cinfo = await self.js.consumer_info(self.subjects.downloads_stream, self.durable)
                found = self.cluster.node(cinfo.cluster.leader if cinfo.cluster else None)
            elif kind == "meta leader":
                found = await asyncio.to_thread(self.cluster.meta_leader)
            elif kind in ("aggregator's node", "ingest's node"):
                found = await asyncio.to_thread(self.cluster.node_of, kind.split("'")[0])
        except Exception:  # no leader to ask right now: any node will do
            found = None
        return found or rng.choice(self.cluster.nodes)


async def _healed(cluster: Cluster, watch: Watch) -> bool:
    """Every node up and JetStream current on each (``/healthz``), the stream led by someone."""
    for node in cluster.nodes:
        if (await asyncio.to_thread(node.monitor, "/healthz")).get("status") != "ok":
            return False
    return await watch.stored() >= 0


async def _moment(r: Round, watch: Watch, finished: Callable[[], bool]) -> str:
    """Wait for the round's moment; returns what was reached ('timed out', or 'finished' once the
    backfill is done and every day complete: no moment is left to reach)."""
    deadline = time.monotonic() + MOMENT_WAIT_S
    start_stored, start_committed = await watch.stored(), await watch.committed()
    manifests = watch.subjects.manifest_prefix + ".*"

    async def reached() -> bool:
        if r.moment == "publish":
            return await watch.stored() >= start_stored + r.fraction * PACKAGES
        if r.moment == "fetch":
            return await watch.committed() >= start_committed + r.fraction * PACKAGES
        # completion: a manifest is stored whose day is not complete yet
        return await watch.stored(manifests) > await watch.complete_days()

    while time.monotonic() < deadline:
        if await reached():
            return r.moment
        if finished() and await watch.complete_days() >= DAYS:
            return "finished"
        await asyncio.sleep(0.02)
    return "timed out"


async def _kill_and_restart(
    cluster: Cluster, watch: Watch, r: Round, rng: random.Random, log: list[str]
) -> None:
    await asyncio.sleep(r.after_s)
    victim = await watch.victim(r.victim, rng)
    victim.kill()
    log.append(
        f"{time.monotonic() - STARTED[0]:.1f}s {r.moment}: killed {victim.name} ({r.victim}) for {r.down_s:.1f}s"
    )
    await asyncio.sleep(r.down_s)  # the outage itself (not a wait for a consumer)
    await asyncio.to_thread(cluster.restart, victim)
    back = time.monotonic()
    await wait_until(lambda: _healed(cluster, watch), timeout=60, interval=0.2, what="the cluster to heal")
    log[-1] += f", healed {time.monotonic() - back:.1f}s after its restart"


async def test_nodes_killed_at_random_moments_of_a_backfill_lose_nothing(
    cluster: Cluster,
    client: NatsClient,
    db: asyncpg.Pool,
    subjects: Subjects,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    seed = chaos_seed()
    print(f"\nchaos seed: CHAOS_SEED={seed}")
    rng = random.Random(seed)
    rounds = draw(rng)
    STARTED[0] = time.monotonic()
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)  # inside the stream's window: no purge
    days = [end - dt.timedelta(days=i) for i in range(DAYS)]
    env = {**service_env, "NATS_URL": cluster.url, "STREAM_REPLICAS": "3", "NATS_RETRY_SECONDS": "60",
           "BACKFILL_AHEAD_DAYS": "1"}  # fmt: skip
    proc = AggregatorProcess(env, tmp_path, BATCH_SIZE="200")
    watch = Watch(cluster, client.jetstream(timeout=2), db, subjects)
    happened: list[str] = []
    with aggregators(proc):
        backfill = _backfill(env, days[-1], end, tmp_path)
        try:
            # stream setup: both services connect and create the streams while a node dies
            await wait_until(
                lambda: _connected(cluster), timeout=30, interval=0.02, what="a service to connect"
            )
            await _kill_and_restart(cluster, watch, rounds[0], rng, happened)
            for r in rounds[1:]:
                reached = await _moment(r, watch, lambda: backfill.poll() is not None)
                if reached == "finished":
                    break
                if reached == "timed out":
                    r.moment = f"{r.moment} (not reached: at once)"
                await _kill_and_restart(cluster, watch, r, rng, happened)
            code = await asyncio.to_thread(backfill.wait, 120)
            assert code == 0, _text(tmp_path / "backfill.log")[-3000:]
        finally:
            if backfill.poll() is None:
                backfill.kill()
                backfill.wait(10)
        assert proc.alive(), proc.log_text()[-3000:]
    note = f"CHAOS_SEED={seed}; " + "; ".join(happened)
    print(note)
    source = SyntheticSource(PACKAGES, seed=SYNTHETIC_SEED)
    for day in days:
        run_id = await db.fetchval("SELECT run_id FROM ingest_days WHERE day = $1", day)
        assert run_id is not None and await completed(db, day, run_id), f"{day} not complete; {note}"
        assert await stored(db, day) == with_all(expected(source.expected_rows(day))), (
            f"{day} differs; {note}"
        )
        of_day = f"{subjects.daily_prefix.rsplit('.', 2)[0]}.*.v1.{day.isoformat()}"
        per_day = await _messages(watch.js, subjects.downloads_stream, of_day)
        assert per_day == PACKAGES + 1, (
            f"{day}: {per_day} messages stored, not {PACKAGES} + a manifest; {note}"
        )
    dead = await _messages(watch.js, subjects.dead_stream)
    assert dead == 0, f"{dead} dead letters; {note}"
    assert len(happened) >= 3, f"too few kills happened: {note}"  # 4-5 of 5 on this machine


async def _messages(js: JetStreamContext, stream: str, subjects_filter: str | None = None) -> int:
    """Messages stored in ``stream`` (on ``subjects_filter``), asked until a leader answers."""
    found: list[int] = []

    async def asked() -> bool:
        try:
            info = await js.stream_info(stream, subjects_filter=subjects_filter)
        except Exception:  # electing
            return False
        found.append(
            int(info.state.messages) if subjects_filter is None else sum((info.state.subjects or {}).values())
        )
        return True

    await wait_until(asked, timeout=30, interval=0.2, what=f"{stream} to answer")
    return found[-1]


async def _connected(cluster: Cluster) -> bool:
    names = await asyncio.to_thread(cluster.clients)
    return any(n in ("ingest", "aggregator") for found in names.values() for n in found)


def _backfill(env: dict[str, str], start: dt.date, end: dt.date, tmp_path: Path) -> subprocess.Popen[bytes]:
    log = open(tmp_path / "backfill.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.ingest", "backfill", "--start", start.isoformat(), "--end",
         end.isoformat(), "--source", "synthetic", "--no-progress"],
        env={**env, "SYNTHETIC_PACKAGES": str(PACKAGES), "SYNTHETIC_SEED": str(SYNTHETIC_SEED)},
        stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    log.close()
    return proc


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
