"""shared.flight.SingleFlight: concurrent callers of one key share one build."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Counter

from shared.flight import SingleFlight


async def settle() -> None:
    """Let every ready task run (a few turns of the loop, no waiting on a clock)."""
    for _ in range(5):
        await asyncio.sleep(0)


def joined_counter() -> Counter:
    return Counter("joined", "callers that joined a running build", registry=CollectorRegistry())


async def test_concurrent_callers_share_one_build_and_the_next_miss_builds_again() -> None:
    joined = joined_counter()
    flight: SingleFlight[str, int] = SingleFlight(joined)
    release = asyncio.Event()
    builds = 0

    async def build() -> int:
        nonlocal builds
        builds += 1
        await release.wait()
        return builds

    callers = [asyncio.ensure_future(flight.run("k", build)) for _ in range(20)]
    other = asyncio.ensure_future(flight.run("other", build))
    await settle()
    assert len(flight) == 2 and builds == 2
    release.set()
    assert await asyncio.gather(*callers) == [callers[0].result()] * 20
    await other
    assert builds == 2 and joined._value.get() == 19 and len(flight) == 0
    assert await flight.run("k", build) == 3  # finished builds are not remembered


async def test_every_caller_gets_the_exception_and_a_leaving_caller_cancels_nothing() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()

    async def failing() -> int:
        await release.wait()
        raise LookupError("no such package")

    first = asyncio.ensure_future(flight.run("k", failing))
    second = asyncio.ensure_future(flight.run("k", failing))
    await settle()
    first.cancel()  # the first caller goes away: the build and the second caller go on
    release.set()
    with pytest.raises(LookupError):
        await second
    assert first.cancelled() and len(flight) == 0


async def test_the_build_is_cancelled_when_its_last_caller_goes() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow() -> int:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 1  # pragma: no cover

    callers = [asyncio.ensure_future(flight.run("k", slow)) for _ in range(2)]
    await started.wait()
    callers[0].cancel()
    await settle()
    assert not cancelled.is_set()  # one caller still waits
    callers[1].cancel()
    await asyncio.wait_for(cancelled.wait(), 5)
    await settle()
    assert len(flight) == 0 and all(c.cancelled() for c in callers)
