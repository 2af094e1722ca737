"""A PostgreSQL primary with a streaming replica of its own, for the read-replica tests.

Owns finding the PostgreSQL binaries (those of the ``pgserver`` PyPI package in the virtualenv;
else Debian's ``/usr/lib/postgresql/<version>/bin``), making a primary (``initdb``,
``wal_level=replica``) and a replica of it (``pg_basebackup -R``: streaming, hot standby) in a
temporary folder, starting both on free loopback ports and stopping them again.

PostgreSQL refuses to run as root. Like the embedded server (pgserver, used by shared.embedded),
a root test run executes every PostgreSQL binary as the unprivileged system user ``pgserver``
(created when missing) and hands it the data folder.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from shared.embedded import free_port

REQUIRED = ("initdb", "postgres", "pg_basebackup", "pg_isready")
SYSTEM_USER = "pgserver"
START_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 60.0

PRIMARY_CONF = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 4
hot_standby = on
fsync = off
shared_buffers = 16MB
max_connections = 40
"""


class MissingBinaries(RuntimeError):
    """No folder with every PostgreSQL binary the replica tests need."""


def postgres_bin_dir() -> Path:
    """pgserver's binaries, else the newest Debian PostgreSQL's; :class:`MissingBinaries` otherwise."""
    candidates: list[Path] = []
    spec = importlib.util.find_spec("pgserver")  # found, not imported: its import reads the environment
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin")
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for candidate in candidates:
        if all((candidate / name).is_file() for name in REQUIRED):
            return candidate
    looked = ", ".join(str(c) for c in candidates) or "no candidate folder"
    raise MissingBinaries(f"no folder has all of {', '.join(REQUIRED)} (looked in: {looked})")


def _pgserver_utils() -> ModuleType:
    """pgserver's helpers for running PostgreSQL as another user (its own root handling)."""
    with warnings.catch_warnings():  # pgserver's import warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        return importlib.import_module("pgserver.utils")


def _run_as() -> str | None:
    """The system user PostgreSQL runs as: ``pgserver`` under root, else the current user."""
    if os.geteuid() != 0:
        return None
    ensure_user_exists = _pgserver_utils().ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def _grant(bin_dir: Path, data_root: Path, user: str) -> None:
    """Let ``user`` run the binaries (and read their libraries) and own the data folder."""
    import pwd
    import stat

    utils = _pgserver_utils()
    ensure_folder_permissions, ensure_prefix_permissions = (
        utils.ensure_folder_permissions,
        utils.ensure_prefix_permissions,
    )
    read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, read | execute)
    if (bin_dir.parent / "lib").is_dir():
        ensure_folder_permissions(bin_dir.parent / "lib", read)
    ensure_prefix_permissions(data_root)
    entry = pwd.getpwnam(user)
    os.chown(data_root, entry.pw_uid, entry.pw_gid)


@dataclass
class Server:
    name: str
    data: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster this fixture started), then a kill after 15 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class ReplicatedCluster:
    """A primary and one streaming replica under ``root``; ``stop()`` stops both and removes it."""

    root: Path
    bin_dir: Path
    user: str | None
    servers: list[Server] = field(default_factory=list)

    @property
    def primary(self) -> Server:
        return self.servers[0]

    @property
    def replica(self) -> Server:
        return self.servers[1]

    def _command(self, name: str, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin_dir / name), *args],
            user=self.user,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
            raise RuntimeError(f"{name} failed with exit code {done.returncode}:\n{output}")

    def _start(self, name: str, data: Path) -> Server:
        port = free_port()
        log = open(self.root / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [str(self.bin_dir / "postgres"), "-D", str(data), "-p", str(port)],
            user=self.user,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Server(name, data, port, proc)
        self.servers.append(server)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}:\n{self.log_tail(name)}")
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-t", "1"],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return server
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after {START_TIMEOUT_S}s:\n{self.log_tail(name)}")
            time.sleep(0.05)

    def log_tail(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def start(self) -> ReplicatedCluster:
        primary, replica = self.root / "primary", self.root / "replica"
        self._command("initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                      "--no-locale", "--no-sync")  # fmt: skip
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(PRIMARY_CONF.format(sockets=self.root))
        self._start("primary", primary)
        # -R writes standby.signal and primary_conninfo: the copy starts as a streaming hot standby.
        self._command("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                      "-D", str(replica), "-R", "-X", "stream", "-c", "fast", "--no-sync")  # fmt: skip
        self._start("replica", replica)
        return self

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def start_replicated_cluster() -> ReplicatedCluster:
    """Make and start a primary and its streaming replica in a new temporary folder."""
    bin_dir = postgres_bin_dir()
    # Not under pytest's basetemp (mode 0700 at every session start): the server user must enter it.
    root = Path(tempfile.mkdtemp(prefix="pypistats-replica-"))
    user = _run_as()
    if user is not None:
        _grant(bin_dir, root, user)
    cluster = ReplicatedCluster(root, bin_dir, user)
    try:
        return cluster.start()
    except BaseException:
        cluster.stop()
        raise
