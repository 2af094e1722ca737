"""Single flight: concurrent requests for one missing answer build it once per process.

Owns :class:`SingleFlight`. When a day completes, every cached body is dropped at once and the
next requests for a popular package all miss together; without this each would run the same
queries. The first caller of a key starts the build as a task of its own; the others await the
same task (shielded: a caller that goes away cancels neither the build nor the other callers),
and all get its result or its exception. The key is forgotten when the build ends, so the next
miss builds afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from prometheus_client import Counter

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    """At most one running build per key (see the module doc)."""

    def __init__(self, joined: Counter | None = None) -> None:
        self._running: dict[K, asyncio.Task[T]] = {}
        self._joined = joined

    def __len__(self) -> int:
        return len(self._running)

    async def run(self, key: K, build: Callable[[], Awaitable[T]]) -> T:
        """``await build()``, or the result of the build of ``key`` already running."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(build())
            self._running[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        elif self._joined is not None:
            self._joined.inc()
        return await asyncio.shield(task)

    def _forget(self, key: K, task: asyncio.Task[T]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here too: every caller may have gone before it ended
