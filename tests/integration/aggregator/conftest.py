"""Fixtures of the aggregator tests: a factory of processors wired to this test's servers."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from services.aggregator.consumer import Processor
from shared.events import Subjects
from tests.integration.aggregator.helpers import make_processor, settings_for


@pytest.fixture
def new_processor(
    db: asyncpg.Pool,
    redis: Redis,
    js: JetStreamContext,
    subjects: Subjects,
    database_url: str,
    redis_url: str,
    nats_url: str,
) -> Callable[..., Processor]:
    """``new_processor(**settings)``: a processor on this test's database, Redis and streams."""

    def build(**settings: object) -> Processor:
        values = settings_for(database_url, redis_url, nats_url, subjects.namespace, **settings)
        return make_processor(db, redis, js, subjects, values)

    return build
