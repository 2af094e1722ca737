"""A PostgreSQL server of a test's own, to stop, kill and start again (never the shared one).

Owns one data folder and one port: :meth:`PrivatePostgres.stop_fast` is ``pg_ctl stop -m fast``
(SIGINT to the postmaster: clients are disconnected, the server exits), :meth:`kill` is a SIGKILL
of the whole process group (a crash: crash recovery at the next start), and :meth:`start` starts
it again on the same port and data, waiting until it accepts connections. The binaries, and
running them as the unprivileged ``pgserver`` user under root, come from tests.support.replication.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from shared.embedded import free_port
from tests.support.replication import (
    COMMAND_TIMEOUT_S,
    PRIMARY_CONF,
    START_TIMEOUT_S,
    _grant,
    _run_as,
    postgres_bin_dir,
)


class PrivatePostgres:
    """One PostgreSQL server in a temporary folder, on a fixed free port."""

    def __init__(self) -> None:
        self.bin_dir = postgres_bin_dir()  # MissingBinaries when there are none
        # Not under pytest's basetemp (mode 0700 at every session start): the server user must enter it.
        self.root = Path(tempfile.mkdtemp(prefix="pypistats-private-pg-"))
        self.user = _run_as()
        if self.user is not None:
            _grant(self.bin_dir, self.root, self.user)
        self.data = self.root / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> PrivatePostgres:
        done = subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-locale", "--no-sync"],
            user=self.user, stdin=subprocess.DEVNULL, capture_output=True, timeout=COMMAND_TIMEOUT_S,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"initdb failed: {(done.stdout + done.stderr).decode(errors='replace')[-2000:]}"
            )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(PRIMARY_CONF.format(sockets=self.root))
        return self.start()

    def start(self) -> PrivatePostgres:
        log = open(self.root / "postgres.log", "ab")
        self.proc = subprocess.Popen(
            [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port)],
            user=self.user, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{self.log_tail()}")
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return self
            if time.monotonic() > deadline:
                raise TimeoutError(f"postgres not ready after {START_TIMEOUT_S}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop_fast(self) -> None:
        """``pg_ctl stop -m fast``: SIGINT to the postmaster, which disconnects every client."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend (its own process group): a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def close(self) -> None:
        self.stop_fast()
        shutil.rmtree(self.root, ignore_errors=True)
