"""The aggregator's FastStream channels: the durable batch subscriber and its two publishers.

Owns how the aggregator appears on NATS (and in docs/asyncapi.json):

* it *receives* ``downloads.{kind}.v1.{day}`` (package-days and day manifests) through one durable
  pull consumer that every replica shares: FastStream fetches up to ``BATCH_SIZE`` messages (waiting
  at most ``FETCH_TIMEOUT``), decodes each one into a typed :data:`~services.aggregator.handlers.Delivery`
  and calls the handler with the batch; acks are manual (``AckPolicy.MANUAL``), given by
  :class:`~services.aggregator.consumer.BatchHandler` only after the database commit;
* it *sends* ``rollups.updated.v1.{day}`` after a day is committed and ``downloads.dead.v1`` for
  what it could not apply, each with a ``Nats-Msg-Id`` so a retried publish is stored once.

:func:`aggregator_channels` only declares; the handler is attached once the service's resources
are open (``channels.handler = ...``), before the broker starts fetching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from faststream import AckPolicy, Context
from faststream.nats import NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from faststream.nats.publisher.usecase import LogicPublisher as NatsPublisher
from faststream.nats.subscriber.usecases.basic import LogicSubscriber
from nats.js.api import AckPolicy as ConsumerAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.aggregator.config import AggregatorSettings
from services.aggregator.consumer import BatchHandler
from services.aggregator.handlers import BatchDecoder, Delivery
from shared.events import DeadLetter, RollupsUpdated, Subjects
from shared.messaging import channel, stream_ref

NatsSubscriber = LogicSubscriber[Any]


def durable_name(namespace: str, consumer: str) -> str:
    """The shared durable consumer name; includes the namespace so stacks never share it."""
    return f"{namespace}-{consumer}" if namespace else consumer


def downloads_channel(subjects: Subjects) -> str:
    """``<ns.>downloads.{kind}.v1.{day}``: both subjects of the downloads stream (one filter)."""
    head, _kind, version = subjects.daily_prefix.rsplit(".", 2)
    return f"{head}.{{kind}}.{version}.{{day}}"


def consumer_config(settings: AggregatorSettings) -> ConsumerConfig:
    """The durable consumer's settings (used when the first replica creates it)."""
    return ConsumerConfig(
        ack_policy=ConsumerAckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.ack_wait,
        max_ack_pending=settings.max_ack_pending,
        max_deliver=-1,
        max_waiting=512,
    )


@dataclass
class AggregatorChannels:
    """The router to include in the broker, its publishers, and the handler the subscriber calls."""

    router: NatsRouter
    subscriber: NatsSubscriber
    rollups: NatsPublisher
    dead: NatsPublisher
    handler: BatchHandler | None = field(default=None)


def aggregator_channels(subjects: Subjects, settings: AggregatorSettings) -> AggregatorChannels:
    """Declare the aggregator's subscriber and publishers on a new router."""
    router = NatsRouter()
    rollups = router.publisher(
        channel(subjects.rollups_prefix),
        stream=stream_ref(subjects.rollups_stream),
        schema=RollupsUpdated,
        title="aggregator: rollups.updated",
        description=(
            "Sent after every rollup of a day is committed and the Redis cache version bumped "
            "(Nats-Msg-Id `<day>/rollups/<run_id>/<manifest stream sequence>`), and again for the "
            "last complete day when recent totals deferred during a backlog are rebuilt "
            "(`<day>/recent/<cache version>`). api and web drop their in-process caches on it."
        ),
    )
    dead = router.publisher(
        subjects.dead,
        stream=stream_ref(subjects.dead_stream),
        schema=DeadLetter,
        title="aggregator: downloads.dead",
        description=(
            "A message the aggregator could not apply, with its subject, the reason "
            "(`<label>: <detail>`) and the original payload (Nats-Msg-Id `dead/<stream sequence>`)."
        ),
    )
    subscriber = router.subscriber(
        downloads_channel(subjects),
        stream=stream_ref(subjects.downloads_stream),
        durable=durable_name(subjects.namespace, settings.consumer_name),
        config=consumer_config(settings),
        pull_sub=PullSub(batch_size=settings.batch_size, timeout=settings.fetch_timeout, batch=True),
        ack_policy=AckPolicy.MANUAL,
        decoder=BatchDecoder(subjects),
        title="aggregator: downloads",
    )
    channels = AggregatorChannels(router, subscriber, rollups, dead)

    @subscriber
    async def on_downloads(
        events: list[Delivery], message: Annotated[NatsBatchMessage, Context("message")]
    ) -> None:
        """Package-days and day manifests from ingest, fetched in batches on the durable consumer
        every aggregator replica shares. A message that fails typed decoding arrives as its dead
        letter and is republished to `downloads.dead.v1`. Idempotent: a package-day replaces its
        row (ordered by stream sequence), a manifest recomputes its day from committed rows."""
        assert channels.handler is not None, "the handler is attached before the broker starts"
        await channels.handler.handle(events, message.raw_message)

    return channels


def document() -> NatsRouter:
    """What the aggregator declares on NATS, for the AsyncAPI document (entry point
    ``pypistats.events``); the subscriber's settings are the defaults, read from no environment."""
    return aggregator_channels(Subjects(), AggregatorSettings.model_construct()).router
