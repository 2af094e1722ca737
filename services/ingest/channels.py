"""Ingest's FastStream channels: what it publishes, and the connected :class:`Outlet` runs use.

Owns how ingest appears on NATS (and in docs/asyncapi.json): it *sends* ``downloads.daily.v1.{day}``
(one :class:`~shared.events.PackageDay` per package) and then ``downloads.manifest.v1.{day}`` (the
:class:`~shared.events.DayManifest` of the run), each with its ``Nats-Msg-Id``.

Both are declared as FastStream publishers on one router. The manifest goes through its publisher.
Package-days do not: a FastStream publish waits for its PubAck before the next one starts, which
measured 5-10x slower than keeping up to ``PUBLISH_MAX_IN_FLIGHT`` publishes in flight
(docs/benchmarks.md, "Ingest through FastStream"), so the publisher pipelines them through the
JetStream context of the same broker (same connection, same subjects, same message ids).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from faststream.nats import NatsBroker, NatsRouter
from faststream.nats.publisher.usecase import LogicPublisher as NatsPublisher
from nats.js import JetStreamContext

from shared.events import DayManifest, PackageDay, Subjects
from shared.jsretry import Retry
from shared.messaging import StreamPolicy, channel, ensure_streams, jetstream, make_broker, stream_ref


@dataclass(frozen=True)
class IngestChannels:
    """The router to include in the broker and its two publishers."""

    router: NatsRouter
    daily: NatsPublisher
    manifest: NatsPublisher


def ingest_channels(subjects: Subjects) -> IngestChannels:
    """Declare ingest's publishers on a new router."""
    router = NatsRouter()
    stream = stream_ref(subjects.downloads_stream)
    daily = router.publisher(
        channel(subjects.daily_prefix),
        stream=stream,
        schema=PackageDay,
        title="ingest: downloads.daily",
        description=(
            "One package's downloads on one UTC day from one ingest run, every dimension "
            "(Nats-Msg-Id `<day>/<package>/<run_id>`: a retried publish is stored once). "
            "Sent pipelined through the broker's JetStream context."
        ),
    )
    manifest = router.publisher(
        channel(subjects.manifest_prefix),
        stream=stream,
        schema=DayManifest,
        title="ingest: downloads.manifest",
        description=(
            "Sent after every package-day of a run is stored: how many package-days, rows and "
            "downloads the run has (Nats-Msg-Id `<day>/manifest/<run_id>`). The aggregator "
            "completes the day once all of them are committed."
        ),
    )
    return IngestChannels(router, daily, manifest)


def document() -> NatsRouter:
    """What ingest declares on NATS, for the AsyncAPI document (entry point ``pypistats.events``)."""
    return ingest_channels(Subjects()).router


@dataclass(frozen=True)
class Outlet:
    """What a run publishes through: the broker's JetStream context (pipelined package-days) and
    the manifest publisher, on a connected broker."""

    js: JetStreamContext
    manifest: NatsPublisher
    subjects: Subjects


@contextlib.asynccontextmanager
async def connected(
    url: str, subjects: Subjects, policy: StreamPolicy, *, name: str = "ingest", retry: Retry | None = None
) -> AsyncIterator[tuple[NatsBroker, Outlet]]:
    """A connected broker with ingest's publishers and the streams created (or updated), the setup
    retried through a leader election for ``retry``'s bound."""
    channels = ingest_channels(subjects)
    broker = make_broker(url, name=name)
    broker.include_router(channels.router)
    await broker.connect()
    try:
        js = jetstream(broker)
        await ensure_streams(js, subjects, policy, retry)
        yield broker, Outlet(js, channels.manifest, subjects)
    finally:
        await broker.stop()
