"""Fixtures of the aggregator tests: a factory of processors wired to this test's servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from services.aggregator.channels import aggregator_channels
from services.aggregator.consumer import Outlets, Processor
from shared.events import Subjects
from shared.messaging import make_broker
from tests.integration.aggregator.helpers import make_processor, settings_for


@pytest.fixture
async def outlets(js: JetStreamContext, subjects: Subjects, nats_url: str) -> AsyncIterator[Outlets]:
    """The aggregator's publishers on a connected FastStream broker (the streams exist: ``js``)."""
    channels = aggregator_channels(subjects, settings_for("", "", nats_url, subjects.namespace))
    broker = make_broker(nats_url, name="tests-outlets")
    broker.include_router(channels.router)
    await broker.connect()
    try:
        yield Outlets(channels.rollups, channels.dead)
    finally:
        await broker.stop()


@pytest.fixture
def new_processor(
    db: asyncpg.Pool,
    redis: Redis,
    outlets: Outlets,
    subjects: Subjects,
    database_url: str,
    redis_url: str,
    nats_url: str,
) -> Callable[..., Processor]:
    """``new_processor(**settings)``: a processor on this test's database, Redis and streams."""

    def build(**settings: object) -> Processor:
        values = settings_for(database_url, redis_url, nats_url, subjects.namespace, **settings)
        return make_processor(db, redis, outlets, subjects, values)

    return build
