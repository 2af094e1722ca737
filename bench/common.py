"""What the HTTP benchmarks share: the seeded throw-away database, starting servers, the baseline, wrk.

Owns the bench database of bench.api and bench.web (a fresh one on the given server, migrated, with
one package of 181 days written by tests/support/seed.py), starting a server subprocess and waiting
for its port, the baseline server (a bare aiohttp handler returning fixed bytes on the same
routes), a fake PyPI that knows every name, and running Debian's ``wrk`` (optionally with a Lua
script) with its figures and the server's CPU time per request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from shared import workers
from shared.db.migrate import migrate
from shared.embedded import wait_for_port
from tests.support.seed import package_rows, seed, with_all
from tests.support.servers import with_database

PACKAGE = "bench-package"
ROOT = Path(__file__).resolve().parent.parent


def bare_server(port: int, path: str, body_file: str, content_type: str) -> None:
    """The baseline: an aiohttp handler returning the same bytes, with the same server settings."""
    bare_routes(port, [(path, body_file, content_type)])


def bare_routes(port: int, routes: Sequence[tuple[str, str, str]]) -> None:
    """The baseline on several routes ``(path, body file, content type)``; a path may have
    ``{placeholders}`` (resolved like the service's dynamic routes), the body stays the same."""
    from aiohttp import web

    def handler(body: bytes, content_type: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type=content_type)

        return handle

    def make_app() -> web.Application:
        app = web.Application()
        for path, body_file, content_type in routes:
            app.router.add_get(path, handler(Path(body_file).read_bytes(), content_type))
        return app

    # as many worker processes as the services it is compared with (WEB_CONCURRENCY)
    workers.serve(
        make_app,
        service="bare",
        host="127.0.0.1",
        port=port,
        workers=int(os.environ.get("WEB_CONCURRENCY") or 1),
    )


def any_pypi(port: int) -> None:
    """services.web's fake PyPI answering every name (a small project with two dependencies)."""
    from aiohttp import web

    from services.web import fakepypi

    class Every(dict[str, dict[str, Any]]):
        def get(self, name: str, default: Any = None) -> dict[str, Any]:
            return fakepypi.project(name, requires_dist=["requests>=2", "idna"])

    web.run_app(fakepypi.create_app(Every()), host="127.0.0.1", port=port, access_log=None, print=None)


async def prepare(admin_url: str, prefix: str = "pypistats_bench_") -> str:
    """A new migrated database holding :data:`PACKAGE` with 181 days; returns its URL."""
    name = prefix + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
    await admin.close()
    url = with_database(admin_url, name)
    try:
        await migrate(url)
        pool = await asyncpg.create_pool(url)
        assert pool is not None
        try:
            await seed(pool, with_all(package_rows(PACKAGE, 5000, dt.date(2026, 3, 31), 181)))
        finally:
            await pool.close()
    except BaseException:
        await drop(admin_url, url)  # a failed seed leaves no database behind
        raise
    return url


async def drop(admin_url: str, url: str) -> None:
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await admin.close()


def start(
    cmd: list[str], env: dict[str, str], port: int, timeout: float = 60, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    wait_for_port(port, timeout, proc)
    return proc


@dataclass(frozen=True)
class Load:
    """How wrk loads a server: connections, and an optional Lua script with its arguments."""

    connections: int = 64
    script: Path | None = None
    script_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figures:
    """Medians over the runs."""

    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # server CPU time per request
    timeouts: int = 0  # requests without an answer within 10 s, summed over the runs


def wrk(url: str, seconds: int, load: Load = Load()) -> tuple[float, float, float, int, int]:
    """(requests/s, p50 ms, p99 ms, requests, timeouts) of one ``wrk -t2 --latency --timeout 10s`` run."""
    cmd = ["wrk", "-t2", f"-c{load.connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if load.script is not None:
        cmd += ["-s", str(load.script)]
    cmd.append(url)
    if load.script_args:
        cmd += ["--", *load.script_args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} error responses\n{out}")
    timeouts = re.search(r"Socket errors: .*timeout (\d+)", out)

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, pct("50"), pct("99"), count, int(timeouts.group(1)) if timeouts else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live children (the workers of a
    ``WEB_CONCURRENCY`` supervisor), from Linux /proc."""
    import psutil

    total = 0.0
    for one in [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(name: str, url: str, pid: int, args: argparse.Namespace, load: Load = Load()) -> Figures:
    """Medians of (req/s, p50 ms, p99 ms, server CPU microseconds per request) over ``args.runs``
    runs of ``args.duration`` seconds, after ``args.warmup`` seconds of unmeasured load."""
    wrk(url, args.warmup, load)
    runs = []
    for _ in range(args.runs):
        before = cpu_seconds(pid)
        rps, p50, p99, count, timeouts = wrk(url, args.duration, load)
        runs.append((rps, p50, p99, 1e6 * (cpu_seconds(pid) - before) / count, timeouts))
    rps, p50, p99, cpu = (statistics.median(r[i] for r in runs) for i in range(4))
    result = Figures(rps, p50, p99, cpu, int(sum(r[4] for r in runs)))
    print(
        f"{name:<10} {result.rps:>9.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
        f"  {result.cpu_us:6.0f} us CPU/request"
        + (f"  {result.timeouts} timeouts" if result.timeouts else ""),
        flush=True,
    )
    return result
