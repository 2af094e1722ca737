"""Single flight: concurrent requests for one missing answer build it once per process.

Owns :class:`SingleFlight`. When a day completes, every cached body is dropped at once and the
next requests for a popular package all miss together; without this each would run the same
queries. The first caller of a key starts the build as a task of its own; the others await the
same task, and all get its result or its exception. A caller that goes away cancels neither the
build nor the other callers; when the last one goes (a shutdown cancelling every request), the
build is cancelled too, so it holds no connection nobody waits for. The key is forgotten when the
build ends, so the next miss builds afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from prometheus_client import Counter

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[T]) -> None:
        self.task = task
        self.waiters = 0


class SingleFlight(Generic[K, T]):
    """At most one running build per key (see the module doc)."""

    def __init__(self, joined: Counter | None = None) -> None:
        self._running: dict[K, _Flight[T]] = {}
        self._joined = joined

    def __len__(self) -> int:
        return len(self._running)

    async def run(self, key: K, build: Callable[[], Awaitable[T]]) -> T:
        """``await build()``, or the result of the build of ``key`` already running."""
        flight = self._running.get(key)
        if flight is None:
            flight = self._running[key] = _Flight(asyncio.ensure_future(build()))
            flight.task.add_done_callback(lambda done: self._forget(key, done))
        elif self._joined is not None:
            self._joined.inc()
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            if flight.waiters == 1 and not flight.task.done():
                flight.task.cancel()  # the last caller left: nobody waits for the build
            raise
        finally:
            flight.waiters -= 1

    def _forget(self, key: K, task: asyncio.Task[T]) -> None:
        flight = self._running.get(key)
        if flight is not None and flight.task is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here too: every caller may have gone before it ended
