"""NATS JetStream plumbing: the FastStream broker, the stream definitions and the channel names.

Owns the three streams of contracts.md section 3 and their properties: the downloads stream keeps
package-days and manifests for at least the retention window (so ``aggregator replay`` needs no
BigQuery) and has a duplicate window, so a retried publish with the same ``Nats-Msg-Id`` is stored
once; the rollups stream carries ``rollups.updated``; the dead-letter stream keeps what the
aggregator could not apply. Every stream has ``STREAM_REPLICAS`` replicas (1 on one server, 3 on a
three-node JetStream cluster). ``ensure_streams`` is idempotent: it creates or updates, each step
retried through a leader election or a lost node (shared.jsretry, ``NATS_RETRY_SECONDS``).

Every service talks to NATS through a FastStream :class:`NatsBroker` made by :func:`make_broker`
(typed subscribers and publishers, decoding, acks, reconnects, graceful shutdown, the AsyncAPI
document). Where a service needs what a FastStream publisher does not give (ingest's thousand
pipelined publishes in flight, the aggregator's replay through temporary consumers), it uses the
JetStream context the broker itself holds (:func:`jetstream`), on the same connection.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from dataclasses import dataclass

import nats
from faststream.nats import JStream, NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from shared.config import ServiceSettings
from shared.events import MAX_EVENT_BYTES, Subjects
from shared.fetchguard import guard_fetches
from shared.jsretry import Retry

DAY = 24 * 3600.0


@dataclass(frozen=True)
class StreamPolicy:
    #: Days the downloads stream keeps package-day events (STREAM_RETENTION_DAYS).
    retention_days: int = 187
    duplicate_window_s: float = 2 * 3600.0
    dead_letter_days: int = 30
    rollups_days: int = 7
    #: Copies of each stream kept by a JetStream cluster (1 on a single server).
    replicas: int = 1


def policy_of(settings: ServiceSettings) -> StreamPolicy:
    """The stream policy a service's settings ask for (retention window, replicas)."""
    return StreamPolicy(retention_days=settings.stream_retention_days, replicas=settings.stream_replicas)


def stream_configs(subjects: Subjects, policy: StreamPolicy) -> list[StreamConfig]:
    """The stream definitions; the downloads stream keeps events for ``policy.retention_days``."""
    return [
        StreamConfig(
            name=subjects.downloads_stream,
            subjects=subjects.downloads_subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=policy.retention_days * DAY,
            duplicate_window=policy.duplicate_window_s,
            max_msg_size=MAX_EVENT_BYTES,
            num_replicas=policy.replicas,
        ),
        StreamConfig(
            name=subjects.rollups_stream,
            subjects=[f"{subjects.rollups_prefix}.*"],
            storage=StorageType.FILE,
            max_age=policy.rollups_days * DAY,
            duplicate_window=policy.duplicate_window_s,
            num_replicas=policy.replicas,
        ),
        StreamConfig(
            name=subjects.dead_stream,
            subjects=[subjects.dead],
            storage=StorageType.FILE,
            max_age=policy.dead_letter_days * DAY,
            num_replicas=policy.replicas,
        ),
    ]


def retry_of(settings: ServiceSettings) -> Retry:
    """How long the service's JetStream calls ride through an election (NATS_RETRY_SECONDS)."""
    return Retry(bound_s=settings.nats_retry_seconds)


#: Each look, create or update of a stream gives up after this and is tried again: on a healthy
#: cluster it takes milliseconds; a request lost with a dying leader is never answered.
SETUP_ATTEMPT_S = 4.0

#: JetStream's "stream name already in use": an earlier attempt (its answer lost) or another
#: service created it between our look and our create.
STREAM_NAME_IN_USE = 10058


async def ensure_streams(
    js: JetStreamContext, subjects: Subjects, policy: StreamPolicy, retry: Retry | None = None
) -> None:
    """Create the streams, or update them in place when they exist; each stream's setup is
    retried through a leader election or a lost node (shared.jsretry) for ``retry``'s bound."""
    retry = dataclasses.replace(retry or Retry(), attempt_s=SETUP_ATTEMPT_S)
    for config in stream_configs(subjects, policy):
        assert config.name is not None
        await retry.call(functools.partial(_ensure_stream, js, config), f"stream setup {config.name}")


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """One attempt: look, then create or update (both are safe to repeat)."""
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError as exc:
            if exc.err_code != STREAM_NAME_IN_USE:
                raise
    await js.update_stream(config)


async def delete_streams(js: JetStreamContext, subjects: Subjects) -> None:
    """Remove the streams of a namespace (used by tests and by operators resetting a stack)."""
    for name in (subjects.downloads_stream, subjects.rollups_stream, subjects.dead_stream):
        try:
            await js.delete_stream(name)
        except NotFoundError:
            pass


def server_urls(url: str) -> list[str]:
    """``NATS_URL`` as a list: one server, or a comma-separated list of a cluster's nodes."""
    return [u.strip() for u in url.split(",") if u.strip()]


async def connect(url: str, *, name: str = "pypistats", max_reconnect_attempts: int = -1) -> NatsClient:
    """A bare nats-py connection (tests and benchmarks), reconnecting forever to any listed server."""
    return await nats.connect(
        servers=server_urls(url),
        name=name,
        max_reconnect_attempts=max_reconnect_attempts,
        reconnect_time_wait=0.5,
        connect_timeout=5,
    )


def make_broker(
    url: str,
    *,
    name: str = "pypistats",
    graceful_timeout: float | None = 30.0,
) -> NatsBroker:
    """The FastStream broker of a service: every server of ``url`` (a cluster's nodes fail over),
    reconnecting forever, JetStream requests with a 10 s timeout. Nothing connects until
    ``connect()``/``start()``, so building one (for the AsyncAPI document too) needs no server.
    Per-message log lines are at DEBUG: the aggregator sees a thousand messages a second.
    FastStream logs through :func:`events_logger`."""
    return NatsBroker(
        servers=server_urls(url),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        graceful_timeout=graceful_timeout,
        log_level=logging.DEBUG,
        logger=events_logger(),
        js_options={"timeout": 10.0},
    )


def events_logger() -> logging.Logger:
    """The stdlib logger FastStream writes to: it propagates to the root handler that
    shared.logging configures, so its lines are structured (JSON in production) like ours."""
    return logging.getLogger("pypistats.events")


async def connect_broker(broker: NatsBroker) -> JetStreamContext:
    """Connect ``broker`` (``start()`` then reuses the connection) and return its JetStream
    context, with :func:`guard_fetch_timeouts` applied before any subscriber pulls."""
    await broker.connect()
    js = jetstream(broker)
    guard_fetch_timeouts(js)
    return js


def guard_fetch_timeouts(js: JetStreamContext) -> None:
    """Guard every pull subscription's fetch of ``js`` (shared.fetchguard): an expired fetch
    always reads as ``nats.errors.TimeoutError``, and any other failure (a consumer without a
    leader, a durable consumer deleted by hand) backs off, recreates a missing durable consumer
    and reads as an expired fetch, so FastStream's loop neither drops a partial batch nor spins.
    tests/integration/shared/test_messaging.py checks it on a real server."""
    guard_fetches(js)


def jetstream(broker: NatsBroker) -> JetStreamContext:
    """The JetStream context the connected broker holds (what FastStream's ``JsClient`` injects)."""
    context: JetStreamContext = broker.config.connection_state.stream
    return context


def stream_ref(name: str) -> JStream:
    """A FastStream reference to one of our streams; :func:`ensure_streams` declares them, not FastStream."""
    return JStream(name, declare=False)


def channel(prefix: str) -> str:
    """The FastStream subject of a per-day channel: ``<prefix>.{day}`` (``*`` on the wire, the day
    as a path parameter in handlers and in the AsyncAPI document)."""
    return f"{prefix}.{{day}}"


def day_from_subject(subject: str) -> dt.date:
    """The ``YYYY-MM-DD`` token at the end of a per-day subject."""
    return dt.date.fromisoformat(subject.rsplit(".", 1)[-1])
