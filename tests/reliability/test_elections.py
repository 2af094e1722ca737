"""JetStream calls ride through a leader election (shared.jsretry, shared.fetchguard).

On a real three-node cluster (tests/reliability/cluster.py), the node leading the downloads
stream is killed with SIGKILL and the call is made at once, from a client on the surviving nodes:
stream setup and a publish time out or answer 503 until a new leader is elected, and succeed
through :class:`~shared.jsretry.Retry`; the publish is stored once under its message id. On the
test's own server, a durable consumer deleted by hand is created again by the next fetch, which
backs off instead of failing at once in a loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError, ServiceUnavailableError

from services.aggregator.channels import durable_name
from services.ingest.channels import Outlet
from services.ingest.publisher import RunResult, publish_day, publish_with_retry
from services.ingest.sources.synthetic import SyntheticSource
from shared.events import RollupsUpdated, Subjects
from shared.jsretry import JetStreamUnavailable, Retry
from shared.listen import Listener, rollups_router
from shared.messaging import StreamPolicy, connect, ensure_streams, guard_fetch_timeouts
from tests.reliability.cluster import Cluster, Node
from tests.reliability.support import AggregatorProcess, aggregators, completed, expected, stored, with_all
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
T = TypeVar("T")
#: A short JetStream request timeout, so a request to a dead leader fails in seconds.
REQUEST_TIMEOUT_S = 2.0
R3 = StreamPolicy(retention_days=180, replicas=3)


@dataclass(frozen=True)
class CountingRetry(Retry):
    """A :class:`Retry` that counts the retries it made (to show the election was ridden through)."""

    retries: list[str] | None = None

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        what: str,
        *,
        on_retry: Callable[[BaseException], object] | None = None,
    ) -> T:
        def counted(exc: BaseException) -> None:
            assert self.retries is not None
            self.retries.append(type(exc).__name__)
            if on_retry is not None:
                on_retry(exc)

        return await super().call(attempt, what, on_retry=counted)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    nodes = Cluster.start(tmp_path / "cluster")
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
async def clustered(
    cluster: Cluster, subjects: Subjects
) -> AsyncIterator[tuple[NatsClient, JetStreamContext]]:
    """A client of the cluster with the test's R3 streams created."""
    nc = await connect(cluster.url, name="test")
    js = nc.jetstream(timeout=REQUEST_TIMEOUT_S)
    await ensure_streams(js, subjects, R3, Retry(bound_s=60))
    try:
        yield nc, js
    finally:
        await nc.close()


async def _kill_stream_leader(cluster: Cluster, js: JetStreamContext, stream: str) -> Node:
    info = await Retry(bound_s=30).call(lambda: js.stream_info(stream), "stream info")
    assert info.cluster is not None
    victim = cluster.node(info.cluster.leader)
    assert victim is not None, info.cluster
    victim.kill()
    return victim


async def test_stream_setup_rides_through_a_lost_stream_leader(
    cluster: Cluster, clustered: tuple[NatsClient, JetStreamContext], subjects: Subjects
) -> None:
    _, js = clustered
    victim = await _kill_stream_leader(cluster, js, subjects.downloads_stream)
    survivor = await connect(cluster.others(victim), name="test-survivor")
    try:
        sjs = survivor.jetstream(timeout=REQUEST_TIMEOUT_S)
        retries: list[str] = []
        await ensure_streams(sjs, subjects, R3, CountingRetry(bound_s=60, retries=retries))
        assert retries, "the election needed no retry: the test did not test anything"
        info = await sjs.stream_info(subjects.downloads_stream)
        assert info.cluster is not None and info.cluster.leader != victim.name
        # the bound is what it says: a retry given no time fails with the clear error
        victim_two = await _kill_stream_leader(cluster, sjs, subjects.downloads_stream)
        if victim_two is not victim:  # two nodes down would be no quorum: only ever lose one
            cluster.restart(victim)
        with pytest.raises(JetStreamUnavailable, match="did not answer within"):
            await ensure_streams(sjs, subjects, R3, Retry(bound_s=0.001))
    finally:
        await survivor.close()


async def test_a_publish_rides_through_a_lost_stream_leader_and_is_stored_once(
    cluster: Cluster, clustered: tuple[NatsClient, JetStreamContext], subjects: Subjects
) -> None:
    _, js = clustered
    victim = await _kill_stream_leader(cluster, js, subjects.downloads_stream)
    survivor = await connect(cluster.others(victim), name="test-survivor")
    try:
        sjs = survivor.jetstream(timeout=REQUEST_TIMEOUT_S)
        subject, msg_id = subjects.daily_prefix + ".2024-10-07", "2024-10-07/pkg/run1"
        result = RunResult(run_id="run1", day=dt.date(2024, 10, 7), source="synthetic")
        first = await publish_with_retry(
            sjs, subject, b"{}", msg_id, result, deadline_s=60, timeout_s=REQUEST_TIMEOUT_S
        )
        assert result.retries >= 1, "the election needed no retry: the test did not test anything"
        cluster.restart(victim)
        again = await publish_with_retry(
            sjs, subject, b"{}", msg_id, deadline_s=60, timeout_s=REQUEST_TIMEOUT_S
        )
        assert again.duplicate and again.seq == first.seq
        info = await sjs.stream_info(subjects.downloads_stream)
        assert info.state.messages == 1
    finally:
        await survivor.close()


async def test_a_deleted_durable_consumer_is_created_again_without_spinning(
    js: JetStreamContext, subjects: Subjects
) -> None:
    guard_fetch_timeouts(js)
    stream, durable = subjects.downloads_stream, f"{subjects.namespace}-durable"
    config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL)
    sub = await js.pull_subscribe(subjects.daily_prefix + ".*", durable=durable, stream=stream, config=config)
    await js.delete_consumer(stream, durable)
    with pytest.raises(NotFoundError):
        await js.consumer_info(stream, durable)
    # FastStream's loop: fetch again at once after an expired fetch or a 503
    fetches, started = 0, time.monotonic()
    while time.monotonic() - started < 1.0:
        fetches += 1
        try:
            await sub.fetch(10, timeout=0.2)
        except (NatsTimeoutError, ServiceUnavailableError):
            pass
    assert fetches < 20, f"{fetches} fetches in a second: the loop spins"
    assert (await js.consumer_info(stream, durable)).name == durable
    await js.publish(subjects.daily_prefix + ".2024-10-07", b"{}")

    async def fetched() -> bool:
        try:
            msgs = await sub.fetch(1, timeout=0.5)
        except NatsTimeoutError:
            return False
        await msgs[0].ack()
        return True

    await wait_until(fetched, timeout=10, what="the recreated consumer to deliver")
    await sub.unsubscribe()


async def test_the_aggregator_recreates_its_durable_consumer_deleted_by_hand(
    js: JetStreamContext,
    outlet: Outlet,
    db: asyncpg.Pool,
    subjects: Subjects,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """FastStream's own loop: without the guard it spins on 503s (one line of log each) and
    consumes nothing more; with it, the consumer is back within a backoff and the day lands."""
    day = dt.date(2024, 7, 3)
    source = SyntheticSource(300, seed=24)
    proc = AggregatorProcess(service_env, tmp_path, BATCH_SIZE="50")
    durable = durable_name(subjects.namespace, "aggregator")
    with aggregators(proc):
        await wait_until(proc.ready, timeout=30, what="aggregator ready")
        await js.delete_consumer(subjects.downloads_stream, durable)
        run = await publish_day(outlet, source, day)
        await wait_until(lambda: completed(db, day, run.run_id), timeout=60, what="the day to complete")
        assert (await js.consumer_info(subjects.downloads_stream, durable)).name == durable
    assert await stored(db, day) == with_all(expected(source.expected_rows(day)))
    log = proc.log_text()
    assert "durable consumer was missing: created again" in log
    assert log.count("fetch failed, backing off") < 5, "the fetch loop spun"


async def test_a_listener_gets_every_rollups_event_through_the_loss_of_its_node(
    cluster: Cluster, clustered: tuple[NatsClient, JetStreamContext], subjects: Subjects
) -> None:
    """The api's and web's ordered consumer (shared.listen) on the node killed, which may lead the
    rollups stream too: it resumes on a survivor after its missed heartbeats, from where it was,
    so every event still arrives, in order (meanwhile the Redis version timer is the fallback)."""
    _, js = clustered
    got: list[str] = []

    async def on_update(event: RollupsUpdated) -> None:
        got.append(event.run_id)

    listener = Listener(cluster.url, rollups_router(subjects, "test", on_update), "test-listener")
    listener.start()
    day = dt.date(2024, 10, 7)
    retry = Retry(bound_s=60, attempt_s=REQUEST_TIMEOUT_S)

    async def publish(i: int) -> None:
        body = RollupsUpdated(day=day, run_id=f"run{i}", packages=1).to_bytes()
        await retry.call(
            lambda: js.publish(subjects.rollups(day), body, headers={"Nats-Msg-Id": f"{day}/rollups/run{i}"}),
            "publish rollups.updated",
        )

    async def received(n: int) -> bool:
        return len(got) >= n

    try:
        await wait_until(lambda: _running(listener), timeout=30, what="the listener to run")
        await publish(0)
        await wait_until(lambda: received(1), timeout=10, what="the first event")
        victim = await wait_until(
            lambda: asyncio.to_thread(cluster.node_of, "test-listener"), what="its node"
        )
        victim.kill()
        for i in range(1, 6):
            await publish(i)
        await wait_until(lambda: received(6), timeout=60, interval=0.2, what="every event after the loss")
        assert got == [f"run{i}" for i in range(6)]
    finally:
        await listener.stop()


async def _running(listener: Listener) -> bool:
    return listener.running.is_set()
