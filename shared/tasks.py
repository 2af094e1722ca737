"""Stopping a service's background task within a bound.

Owns :func:`stop_task`. ``task.cancel(); await task`` can wait forever on Python 3.11: when a
task is cancelled in the loop iteration in which the awaitable it passed to ``asyncio.wait_for``
has just finished, ``wait_for`` returns that result and the cancellation is lost (CPython
gh-86296, fixed in 3.12). redis-py sends every command through ``wait_for`` when a socket timeout
is set, so a loop cancelled while it sends a Redis command carries on as if nothing had happened,
and whoever awaits it waits forever. A loop should therefore also stop on a flag of its own
(services.api.cache.VersionWatcher does), and :func:`stop_task` cancels again for as long as the
task runs, up to a deadline.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared.logging import get_logger

#: How long :func:`stop_task` waits before cancelling a task that is still running again.
RECANCEL_S = 0.1

log = get_logger(__name__)


async def stop_task(task: asyncio.Task[Any], timeout: float) -> bool:
    """Cancel ``task`` and wait for it to end, cancelling again while it runs; True when it ended
    within ``timeout`` seconds. False is logged and leaves the task behind (the caller goes on)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("background task did not stop in time", task=task.get_name(), timeout_s=timeout)
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=min(remaining, RECANCEL_S))
    if not task.cancelled() and task.exception() is not None:
        log.warning("background task had failed", task=task.get_name(), error=repr(task.exception()))
    return True
