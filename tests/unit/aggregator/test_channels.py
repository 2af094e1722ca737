"""The aggregator's FastStream subscriber in memory (TestNatsBroker): what cannot be decoded is
published to the dead-letter subject with its reason, typed, and counted; nothing reaches the
database. Acks, dedup and redelivery need the real nats-server (tests/reliability)."""

from __future__ import annotations

import asyncio
import datetime as dt
from unittest.mock import AsyncMock

from faststream.nats import NatsBroker, TestNatsBroker
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from services.aggregator.channels import aggregator_channels
from services.aggregator.complete import Completion, Outcome
from services.aggregator.config import AggregatorSettings
from services.aggregator.consumer import BatchHandler, Outlets, Processor
from services.aggregator.metrics import AggregatorMetrics
from shared.events import DayManifest, DeadLetter, Subjects
from shared.messaging import stream_ref

SUBJECTS = Subjects("ns")
DAY = dt.date(2024, 5, 1)


async def test_undecodable_messages_are_dead_lettered_with_their_reason() -> None:
    settings = AggregatorSettings.model_construct()
    channels = aggregator_channels(SUBJECTS, settings)
    metrics = AggregatorMetrics(CollectorRegistry())
    outlets = Outlets(channels.rollups, channels.dead)
    # no database: a batch of rejected messages never touches it
    processor = Processor(None, None, outlets, SUBJECTS, settings, metrics)  # type: ignore[arg-type]
    channels.handler = BatchHandler(processor)
    broker = NatsBroker()
    broker.include_router(channels.router)
    letters: list[DeadLetter] = []

    @broker.subscriber(SUBJECTS.dead, stream=stream_ref(SUBJECTS.dead_stream))
    async def dead(letter: DeadLetter) -> None:
        letters.append(letter)

    stream = SUBJECTS.downloads_stream
    async with TestNatsBroker(broker) as test:
        await test.publish(b"this is not json", SUBJECTS.daily(DAY), stream=stream)
        await test.publish(b'{"day": "2024-05-01"}', SUBJECTS.manifest(DAY), stream=stream)
        await test.publish(b"\xff\xfe", SUBJECTS.daily(DAY), stream=stream)
    assert [(d.subject, d.reason.split(":")[0], d.payload_bytes) for d in letters] == [
        (SUBJECTS.daily(DAY), "invalid_json", 16),
        (SUBJECTS.manifest(DAY), "schema_violation", 21),
        (SUBJECTS.daily(DAY), "invalid_utf8", 2),
    ]
    assert letters[0].payload == "this is not json"
    counted = {
        r: metrics.dead_letters.labels(r)._value.get()
        for r in ("invalid_json", "schema_violation", "invalid_utf8")
    }
    assert counted == {"invalid_json": 1, "schema_violation": 1, "invalid_utf8": 1}
    assert metrics.messages.labels("package_day")._value.get() == 0


class _SlowProcessor:
    """Completes a day slowly and records when the idle round's recent rebuild runs."""

    def __init__(self) -> None:
        self.settings = AggregatorSettings.model_construct(fetch_timeout=0.01)
        self.metrics = AggregatorMetrics(CollectorRegistry())
        self.completing = asyncio.Event()
        self.release = asyncio.Event()
        self.log: list[str] = []

    async def finish_day(self, manifest: DayManifest, seq: int, *, defer_recent: bool = False) -> Completion:
        self.log.append("complete:start")
        self.completing.set()
        await self.release.wait()
        self.log.append("complete:end")
        return Completion(Outcome.COMPLETED, manifest.day, manifest.packages)

    async def flush_if_due(self, pending: int) -> bool:
        self.log.append("flush")
        return True

    async def compact_if_owed(self) -> bool:
        self.log.append("compact")
        return True


async def test_the_idle_round_never_runs_beside_a_batch() -> None:
    processor = _SlowProcessor()
    handler = BatchHandler(processor)  # type: ignore[arg-type]
    manifest = DayManifest(day=DAY, run_id="r", packages=1, rows=1, downloads_with_mirrors=1)
    raw = Msg(_client=None, subject=SUBJECTS.manifest(DAY), data=manifest.to_bytes())  # type: ignore[arg-type]
    raw.ack = AsyncMock()  # type: ignore[method-assign]
    batch = asyncio.create_task(handler.handle([manifest], [raw]))
    await processor.completing.wait()
    handler._last_batch -= 1  # the batch started a second ago: still not idle
    await asyncio.wait_for(handler.idle(), 1)
    assert processor.log == ["complete:start"]
    processor.release.set()
    assert await batch
    raw.ack.assert_awaited_once()
    handler._last_batch -= 1  # as if no batch came for a second
    await handler.idle()
    assert processor.log == ["complete:start", "complete:end", "flush", "flush", "compact"]
