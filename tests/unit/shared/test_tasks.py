"""shared.tasks.stop_task: a task that drops cancellations is cancelled again; one that never
stops is given up on at the deadline instead of holding shutdown forever."""

from __future__ import annotations

import asyncio

from shared.tasks import stop_task


async def test_a_task_that_drops_cancellations_is_cancelled_again() -> None:
    dropped = 0

    async def loop() -> None:
        nonlocal dropped
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                if dropped == 2:
                    raise
                dropped += 1  # as asyncio.wait_for does on Python 3.11 when its inner call just finished

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # let it reach its first wait
    assert await stop_task(task, timeout=10)
    assert task.cancelled() and dropped == 2


async def test_a_task_that_never_stops_is_left_behind_at_the_deadline() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                pass

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)  # let it reach its first wait
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert not await stop_task(task, timeout=0.3)
    assert 0.3 <= loop.time() - started < 5 and not task.done()
    release.set()
    await task


async def test_a_finished_or_failed_task_is_reported_stopped() -> None:
    async def fail() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fail())
    await asyncio.wait({task})
    assert await stop_task(task, timeout=1)
