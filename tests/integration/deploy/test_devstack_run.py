"""``python -m shared.devstack`` end to end against the test servers: the first fill (the newest
days) goes through the real pipeline before the URL, the older history after it in the background,
newest first, with its console lines; the proxy serves a package page, the API and a login through
the fake GitHub, every metric the dashboard and the alerts name is exported by its service, and
SIGINT stops every process the stack started."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from shared.devstack import STATE_FILE
from shared.embedded import free_port
from shared.events import Subjects
from tests.integration.ingest.streams import read_stream
from tests.support.wait import wait_until
from tests.unit.deploy.metrics_catalog import BY_SERVICE, COUNTERS

pytestmark = pytest.mark.slow
DAYS = 5
FIRST_DAYS = 2
#: stdout on a pipe, line by line, until the history is complete.
EXPECTED = [
    r"pypistats-next: starting the local stack \(details: .+/devstack\.log\)",
    r"  migrating the database \.\.\. done \(\d+\.\d s\)",
    r"  first fill: the newest 2 days of 40 synthetic packages, through ingest -> NATS -> aggregator",
    r"  days aggregated: 2/2",
    r"  starting api, web, auth and the proxy \.\.\. done \(\d+\.\d s\)",
    r"",
    r"  pypistats-next is running at http://127\.0\.0\.1:\d+/  \(Ctrl-C stops it\)",
    r"  events: .+/api/asyncapi\.json",
    r"",
    r"  history: 3 days from {oldest} to {history_end} filling in the background, newest first",
    r"  history aggregated: 3/3",
    r"  history complete: 5 days from {oldest}",
]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _started_by(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is still a process of this test's stack (not a recycled pid)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"DEVSTACK_DATA_DIR={data_dir}".encode() in environ


@pytest.fixture
async def stack(
    service_env: dict[str, str], js: JetStreamContext, db: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[dict[str, Any]]:
    """A running devstack on empty tables; yields its state file (URL, ports, pids). The scheduler's
    start-up catch-up is off, so the data is exactly the devstack's own fill."""
    env = {**service_env, "ENV": "local", "LOG_FORMAT": "console", "DEVSTACK_PORT": str(free_port()),
           "DEVSTACK_PACKAGES": "40", "DEVSTACK_DAYS": str(DAYS), "DEVSTACK_FIRST_DAYS": str(FIRST_DAYS),
           "DEVSTACK_DATA_DIR": str(tmp_path),
           "GITHUB_CLIENT_ID": "", "INGEST_RUN_ON_START": "false"}  # fmt: skip
    log = (tmp_path / "stdout.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.devstack", env=env, stdout=log, stderr=subprocess.STDOUT
    )
    state_file = tmp_path / STATE_FILE
    started: list[int] = []

    async def up() -> bool:
        assert proc.returncode is None, (tmp_path / "devstack.log").read_text()[-3000:]  # the details
        return state_file.exists()

    try:
        await wait_until(up, timeout=150, interval=0.2, what="the devstack to be up")
        state: dict[str, Any] = json.loads(state_file.read_text())
        started.extend(state["pids"].values())
        state["process"] = proc
        state["log"] = tmp_path / "stdout.log"
        yield state
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for pid in started:  # never leave a service behind, whatever failed above
            if _started_by(pid, tmp_path):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        log.close()


async def test_devstack_serves_the_site_exports_every_metric_and_stops_on_sigint(
    stack: dict[str, Any], js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool
) -> None:
    url = stack["url"]
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    days = [yesterday - dt.timedelta(days=i) for i in range(DAYS)]  # newest first
    stdout = Path(stack["log"])

    # served once the newest days are in; the older ones arrive after, in the background
    await wait_until(lambda: _printed(stdout, "history complete"), timeout=120, what="the history line")
    printed = stdout.read_text().splitlines()[: len(EXPECTED)]
    for pattern, line in zip(EXPECTED, printed, strict=True):
        wanted = pattern.format(oldest=days[-1].isoformat(), history_end=days[FIRST_DAYS].isoformat())
        assert re.fullmatch(wanted, line), (wanted, printed)
    manifests = [m.day for m in (await read_stream(js, subjects)).manifests]
    assert manifests == days  # published newest first: the first fill, then the history
    completed = {
        r["day"]: r["completed_at"] for r in await db.fetch("SELECT day, completed_at FROM ingest_days")
    }
    assert set(completed) == set(days)
    assert max(completed[d] for d in days[:FIRST_DAYS]) < min(completed[d] for d in days[FIRST_DAYS:])
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies set by 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        async with client.get(f"{url}/api/status") as response:
            assert response.status == 200
            status = (await response.json())["data"]
        assert status["last_complete_day"] == yesterday.isoformat() and status["packages"] >= 40
        async with client.get(f"{url}/api/asyncapi.json") as response:
            assert response.status == 200
            channels = (await response.json())["channels"]
        assert "aggregator: downloads" in channels and "web: rollups.updated" in channels
        async with client.get(f"{url}/api/top?period=month&limit=1") as response:
            package = (await response.json())["data"][0]["package"]
        async with client.get(f"{url}/api/packages/{package}/overall") as response:
            overall = (await response.json())["data"]
        assert {row["date"] for row in overall} == {
            (yesterday - dt.timedelta(days=i)).isoformat() for i in range(DAYS)
        }
        async with client.get(f"{url}/packages/{package}") as response:
            assert response.status == 200
            page = await response.text()
        assert package in page and "plotly" in page.lower()
        # PyPI metadata from the fake PyPI the stack starts, not "unavailable"
        assert "a synthetic project of the local demo stack" in page and "Latest version" in page
        assert "PyPI metadata is unavailable" not in page
        # the front door: /api is the documentation page, /api/... the API, ops routes are not public
        async with client.get(f"{url}/api") as response:
            assert response.status == 200 and response.content_type == "text/html"
            assert '<a href="/api/openapi.json">' in await response.text()
        # every day's bulk export, listed by the api and downloaded through the front door
        async def exported() -> list[dict[str, Any]]:
            async with client.get(f"{url}/api/exports") as response:
                data: list[dict[str, Any]] = (await response.json())["data"]
            return data if {e["day"] for e in data} == {d.isoformat() for d in days} else []

        index = await wait_until(exported, timeout=60, what="every day exported")
        assert index[0]["day"] == yesterday.isoformat() and index[0]["packages"] >= 40
        async with client.get(url + index[0]["url"]) as response:
            assert response.status == 200 and response.headers["ETag"] == index[0]["etag"]
            assert hashlib.sha256(await response.read()).hexdigest() == index[0]["sha256"]
        async with client.get(f"{url}/favicon.ico") as response:
            assert response.status == 200 and response.content_type == "image/svg+xml"
        for path in ("/metrics", "/health", "/ready"):
            async with client.get(url + path) as response:
                assert response.status == 404, path
        async with client.get(f"{url}/auth/login") as response:  # follows the fake GitHub round trip
            assert response.status == 200
            assert "octocat" in await response.text()
        assert any(cookie.key for cookie in client.cookie_jar)

        missing: dict[str, list[str]] = {}  # while each service's own port serves its metrics
        for service, names in BY_SERVICE.items():
            async with client.get(f"http://127.0.0.1:{stack['ports'][service]}/metrics") as response:
                assert response.status == 200
                families = {f.name for f in text_string_to_metric_families(await response.text())}
            wanted = {n.removesuffix("_total") if n in COUNTERS else n for n in names}
            if absent := sorted(wanted - families):
                missing[service] = absent
        assert missing == {}

    # Ctrl-C: every process the stack started is gone and the state file removed
    pids = stack["pids"]
    assert set(pids) >= {"aggregator", "ingest", "api", "web", "auth", "fake-github"}
    assert all(_alive(pid) for pid in pids.values())
    proc: asyncio.subprocess.Process = stack["process"]
    proc.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    assert [name for name, pid in pids.items() if _alive(pid)] == []
    assert not (Path(stack["log"]).parent / STATE_FILE).exists()


async def _printed(path: Path, text: str) -> bool:
    return text in path.read_text()
