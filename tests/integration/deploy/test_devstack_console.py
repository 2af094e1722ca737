"""What ``make run`` prints on a first start with an embedded PostgreSQL: one line per step, the
fill's count and the URL, nothing else; initdb's output and every service's log lines go to
``<data dir>/devstack.log``. Redis and NATS are the test run's (the embedded PostgreSQL is the
noisy one: pgserver logs initdb's whole output)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.devstack import STATE_FILE
from shared.embedded import free_port

pytestmark = pytest.mark.slow

#: stdout up to the URL, line by line (the terminal is a pipe here: no bar, one line per step).
EXPECTED = [
    r"pypistats-next: starting the local stack \(details: .+/devstack\.log\)",
    r"  starting embedded postgres \.\.\. done \(\d+\.\d s\)",
    r"  migrating the database \.\.\. done \(\d+\.\d s\)",
    r"  first fill: 1 day of 5 synthetic packages, through ingest -> NATS -> aggregator",
    r"  days aggregated: 1/1",
    r"  starting api, web, auth and the proxy \.\.\. done \(\d+\.\d s\)",
    r"",
    r"  pypistats-next is running at http://127\.0\.0\.1:\d+/  \(Ctrl-C stops it\)",
]


@pytest.fixture
def data_dir() -> AsyncIterator[Path]:
    # Not pytest's tmp_path: the embedded PostgreSQL runs as an unprivileged user when tests run as
    # root, and pytest keeps its base folder private (see tests/conftest.py).
    directory = Path(tempfile.mkdtemp(prefix="pypistats-devstack-console-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def read_line(stream: asyncio.StreamReader, timeout: float) -> str:
    line = await asyncio.wait_for(stream.readline(), timeout)
    assert line, "make run closed its output early"
    return line.decode().rstrip("\n")


async def test_first_start_prints_steps_and_the_url_and_logs_the_details(
    service_env: dict[str, str], data_dir: Path
) -> None:
    env = {k: v for k, v in service_env.items() if k != "DATABASE_URL"}  # an embedded PostgreSQL
    env.update(ENV="local", LOG_FORMAT="console", DEVSTACK_PORT=str(free_port()), DEVSTACK_PACKAGES="5",
               DEVSTACK_DAYS="1", DEVSTACK_DATA_DIR=str(data_dir), GITHUB_CLIENT_ID="",
               INGEST_RUN_ON_START="false")  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.devstack", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    pids: list[int] = []
    try:
        printed = [await read_line(proc.stdout, 240) for _ in EXPECTED]
        assert len(printed) == len(EXPECTED)
        for pattern, line in zip(EXPECTED, printed, strict=True):
            assert re.fullmatch(pattern, line), (pattern, printed)
        state = json.loads((data_dir / STATE_FILE).read_text())
        pids = list(state["pids"].values())
        assert printed[-1].startswith(f"  pypistats-next is running at {state['url']}/")

        log = (data_dir / "devstack.log").read_text()
        assert "initdb" in log and "Success. You can now start the database server" in log
        for name in ("aggregator", "backfill", "api", "web", "auth"):
            assert re.search(rf"^ *{name} \| ", log, re.MULTILINE), name
        assert "[info" in log  # the stack's own structured log lines

        proc.send_signal(signal.SIGINT)
        rest, errors = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0
        assert re.fullmatch(r"\n  stopping \.\.\. done \(\d+\.\d s\)\n", rest.decode()), rest
        assert errors.decode() == ""  # nothing reached the terminal's stderr either
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
            postmaster = data_dir / "pg" / "postmaster.pid"  # stop the PostgreSQL it had started
            if postmaster.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(postmaster.read_text().split()[0]), signal.SIGTERM)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
