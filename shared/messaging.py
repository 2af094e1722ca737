"""NATS JetStream plumbing: connections and the stream definitions.

Owns the three streams of contracts.md section 3 and their properties: the downloads stream keeps
package-days and manifests for at least the retention window (so ``aggregator replay`` needs no
BigQuery) and has a duplicate window, so a retried publish with the same ``Nats-Msg-Id`` is stored
once; the rollups stream carries ``rollups.updated``; the dead-letter stream keeps what the
aggregator could not apply. ``ensure_streams`` is idempotent: it creates or updates.

Services talk to JetStream through nats-py directly: the aggregator needs batch fetches written in
one transaction, acked only after commit and nak'ed with a delay, and ingest needs many publishes in
flight with their PubAck futures; both are first-class in nats-py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shared.events import MAX_EVENT_BYTES, Subjects

DAY = 24 * 3600.0


@dataclass(frozen=True)
class StreamPolicy:
    retention_days: int = 180
    #: Extra days kept beyond retention, so a day is still replayable while it ages out.
    margin_days: int = 7
    duplicate_window_s: float = 2 * 3600.0
    dead_letter_days: int = 30
    rollups_days: int = 7


def stream_configs(subjects: Subjects, policy: StreamPolicy) -> list[StreamConfig]:
    """The stream definitions; the downloads age limit is never shorter than the retention window."""
    return [
        StreamConfig(
            name=subjects.downloads_stream,
            subjects=subjects.downloads_subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=(policy.retention_days + policy.margin_days) * DAY,
            duplicate_window=policy.duplicate_window_s,
            max_msg_size=MAX_EVENT_BYTES,
        ),
        StreamConfig(
            name=subjects.rollups_stream,
            subjects=[f"{subjects.rollups_prefix}.*"],
            storage=StorageType.FILE,
            max_age=policy.rollups_days * DAY,
            duplicate_window=policy.duplicate_window_s,
        ),
        StreamConfig(
            name=subjects.dead_stream,
            subjects=[subjects.dead],
            storage=StorageType.FILE,
            max_age=policy.dead_letter_days * DAY,
        ),
    ]


async def ensure_streams(js: JetStreamContext, subjects: Subjects, policy: StreamPolicy) -> None:
    """Create the streams, or update them in place when they exist."""
    for config in stream_configs(subjects, policy):
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


async def delete_streams(js: JetStreamContext, subjects: Subjects) -> None:
    """Remove the streams of a namespace (used by tests and by operators resetting a stack)."""
    for name in (subjects.downloads_stream, subjects.rollups_stream, subjects.dead_stream):
        try:
            await js.delete_stream(name)
        except NotFoundError:
            pass


async def connect(url: str, *, name: str = "pypistats", max_reconnect_attempts: int = -1) -> NatsClient:
    """Connect with reconnects enabled forever (a restarted nats-server is waited for)."""
    return await nats.connect(
        servers=[u.strip() for u in url.split(",") if u.strip()],
        name=name,
        max_reconnect_attempts=max_reconnect_attempts,
        reconnect_time_wait=0.5,
        connect_timeout=5,
    )


def day_from_subject(subject: str) -> dt.date:
    """The ``YYYY-MM-DD`` token at the end of a per-day subject."""
    return dt.date.fromisoformat(subject.rsplit(".", 1)[-1])
