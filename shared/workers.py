"""Serving one HTTP service from several worker processes on one port (``WEB_CONCURRENCY``).

Owns :func:`serve`, what the api, web and auth ``serve`` commands run. With one worker (the
default) it is aiohttp's ``run_app`` as before. With more, the process becomes a small supervisor: it binds the port once, then runs its own
command line again that many times, as workers that inherit the listening socket
(``PYPISTATS_LISTEN_FD``) and accept from it, so the kernel spreads connections over them and a
Python service uses every core. The workers run in a session of their own; the supervisor turns
SIGTERM or SIGINT (Ctrl-C) into one SIGTERM for each of them and waits (each shuts down
gracefully, as one process would), restarts a worker that dies on its own after a second, and
exits with the first non-zero code of a worker that did not come back.

Metrics stay one view: the workers keep their counters in the directory of
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, set up by the supervisor for
its workers), and ``/metrics`` on any worker answers the sum over all of them
(shared.metrics.exposition). Gauges are reported per worker (a ``pid`` label).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Final

from aiohttp import web

from shared.logging import get_logger

#: The inherited listening socket of a worker started by the supervisor.
LISTEN_FD: Final = "PYPISTATS_LISTEN_FD"
MULTIPROC_DIR: Final = "PROMETHEUS_MULTIPROC_DIR"
RESTART_DELAY_S: Final = 1.0
#: A worker that dies this soon after its start is not restarted (a bad configuration, a port
#: problem): the supervisor stops rather than loop.
MIN_UPTIME_S: Final = 5.0

log = get_logger(__name__)


def serve(
    make_app: Callable[[], web.Application],
    *,
    service: str,
    host: str,
    port: int,
    workers: int,
    shutdown_timeout: float = 60.0,
) -> int:
    """Serve ``make_app()`` on ``host:port`` with ``workers`` processes (see the module doc)."""
    inherited = os.environ.get(LISTEN_FD)
    if inherited is not None:
        sock = socket.socket(fileno=int(inherited))
        web.run_app(make_app(), sock=sock, access_log=None, print=None, shutdown_timeout=shutdown_timeout)
        return 0
    if workers <= 1:
        web.run_app(
            make_app(), host=host, port=port, access_log=None, print=None, shutdown_timeout=shutdown_timeout
        )
        return 0
    return Supervisor(service, host, port, workers).run()


class Supervisor:
    """The parent of the workers: binds, starts, forwards signals, restarts, reports."""

    def __init__(self, service: str, host: str, port: int, workers: int) -> None:
        self.service, self.host, self.port, self.workers = service, host, port, workers
        self.stopping = False
        self.procs: dict[int, tuple[subprocess.Popen[bytes], float]] = {}  # slot -> (process, started)
        self.told: set[int] = set()  # workers sent SIGTERM

    def run(self) -> int:
        sock = socket.create_server((self.host, self.port), backlog=1024, reuse_port=False)
        sock.set_inheritable(True)
        metrics_dir = tempfile.mkdtemp(prefix=f"pypistats-{self.service}-metrics-")
        env = {**os.environ, LISTEN_FD: str(sock.fileno()), MULTIPROC_DIR: metrics_dir}
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        log.info("workers starting", service=self.service, workers=self.workers, port=self.port)
        code = 0
        try:
            for slot in range(self.workers):
                self._start(slot, env, sock)
            code = self._watch(env, sock)
        finally:
            sock.close()
            shutil.rmtree(metrics_dir, ignore_errors=True)
        log.info("workers stopped", service=self.service, code=code)
        return code

    def _start(self, slot: int, env: dict[str, str], sock: socket.socket) -> None:
        # the command this process was started with, now as a worker (it finds LISTEN_FD)
        cmd = [sys.executable, *sys.orig_argv[1:]]
        proc = subprocess.Popen(cmd, env=env, pass_fds=(sock.fileno(),), start_new_session=True)
        self.procs[slot] = (proc, time.monotonic())

    def _stop(self, signum: int, frame: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        for proc, _ in self.procs.values():
            if proc.poll() is None:
                self.told.add(proc.pid)
                proc.send_signal(signal.SIGTERM)

    def _watch(self, env: dict[str, str], sock: socket.socket) -> int:
        code = 0
        while self.procs:
            if self.stopping:  # also a worker started while the signal was being handled
                for proc, _ in self.procs.values():
                    if proc.poll() is None and proc.pid not in self.told:
                        self.told.add(proc.pid)
                        proc.send_signal(signal.SIGTERM)
            for slot, (proc, started) in list(self.procs.items()):
                returned = proc.poll()
                if returned is None:
                    continue
                del self.procs[slot]
                _forget_worker(env[MULTIPROC_DIR], proc.pid)
                if self.stopping:
                    code = code or (returned if returned > 0 else 0)
                    continue
                if time.monotonic() - started < MIN_UPTIME_S:
                    log.error("worker died at start: stopping", pid=proc.pid, code=returned)
                    code = returned or 1
                    self._stop(signal.SIGTERM, None)
                    continue
                log.warning("worker died: restarting", pid=proc.pid, code=returned, delay_s=RESTART_DELAY_S)
                time.sleep(RESTART_DELAY_S)
                if not self.stopping:
                    self._start(slot, env, sock)
            time.sleep(0.2)
        return code


def _forget_worker(directory: str, pid: int) -> None:
    """prometheus_client's clean-up for a dead worker: its live gauges leave the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
