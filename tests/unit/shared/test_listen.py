"""The rollups.updated subscriber of api and web, in memory (FastStream's TestNatsBroker)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from faststream.nats import NatsBroker, NatsRouter, TestNatsBroker

from shared.events import RollupsUpdated, Subjects
from shared.listen import Listener, rollups_router

SUBJECTS = Subjects("ns")
DAY = dt.date(2024, 5, 1)


async def test_each_event_reaches_the_handler_typed() -> None:
    seen: list[RollupsUpdated] = []

    async def on_update(event: RollupsUpdated) -> None:
        seen.append(event)

    broker = NatsBroker()
    broker.include_router(rollups_router(SUBJECTS, "api", on_update))
    event = RollupsUpdated(day=DAY, run_id="r1", packages=3)
    async with TestNatsBroker(broker) as test:
        await test.publish(event, SUBJECTS.rollups(DAY), stream=SUBJECTS.rollups_stream)
        await test.publish(
            event.model_copy(update={"day": DAY + dt.timedelta(days=1)}),
            SUBJECTS.rollups(DAY + dt.timedelta(days=1)),
            stream=SUBJECTS.rollups_stream,
        )
    assert seen == [event, event.model_copy(update={"day": DAY + dt.timedelta(days=1)})]
    assert all(isinstance(e, RollupsUpdated) for e in seen)


async def test_a_body_that_is_not_the_event_never_reaches_the_handler() -> None:
    seen: list[RollupsUpdated] = []

    async def on_update(event: RollupsUpdated) -> None:
        seen.append(event)

    broker = NatsBroker()
    broker.include_router(rollups_router(SUBJECTS, "web", on_update))
    async with TestNatsBroker(broker) as test:
        with pytest.raises(Exception, match="validation error"):
            await test.publish({"day": "not a day"}, SUBJECTS.rollups(DAY), stream=SUBJECTS.rollups_stream)
        other = Subjects("other")  # another stack's namespace: not this service's subscription
        await test.publish(RollupsUpdated(day=DAY, run_id="r", packages=1), other.rollups(DAY))
    assert seen == []


async def test_stop_ends_a_start_loop_whose_cancellation_is_lost() -> None:
    """nats-py's requests go through ``asyncio.wait_for``, which on Python 3.11 can swallow a
    cancellation (shared.tasks); the retry loop must still end, or the service never shuts down."""
    listener = Listener("nats://127.0.0.1:1", NatsRouter(), "test")
    entered = asyncio.Event()

    async def start() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # the cancellation is lost: the call fails as an unreachable server would
        raise ConnectionRefusedError("no servers available")

    async def stop() -> None:
        return None

    listener.broker.start = start  # type: ignore[method-assign]
    listener.broker.stop = stop  # type: ignore[method-assign]
    listener.start()
    await entered.wait()
    await asyncio.wait_for(listener.stop(), 5)
    assert listener._task is not None and listener._task.done()
    assert not listener.running.is_set()
