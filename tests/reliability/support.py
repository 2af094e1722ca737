"""Helpers of the reliability tests: the aggregator as a real subprocess, expected vs stored rows.

The aggregator is started with ``python -m services.aggregator serve`` and the test's environment
(``service_env``), so a SIGKILL really kills it, and two of them really share the durable consumer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg

from shared.embedded import free_port

Key = tuple[str, str, str]


class AggregatorProcess:
    """One ``aggregator serve`` subprocess with its own ops port and log file."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str = "aggregator", **extra: str) -> None:
        self.ops_port = free_port()
        self.env = {**env, "OPS_PORT": str(self.ops_port), "OPS_HOST": "127.0.0.1", **extra}
        self.env.setdefault("ACK_WAIT", "5")
        self.env.setdefault("MANIFEST_RETRY_DELAY", "0.3")
        self.env.setdefault("ERROR_RETRY_DELAY", "0.3")
        self.env.setdefault("FETCH_TIMEOUT", "0.5")
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AggregatorProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.aggregator", "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acks, no goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def get(self, path: str) -> tuple[int, str]:
        """(status, body) of an ops route, or (0, error) while it does not answer."""
        if not self.alive():
            raise AssertionError(
                f"aggregator exited with {self.proc and self.proc.returncode}:\n{self.log_text()[-3000:]}"
            )
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as client,
                client.get(f"http://127.0.0.1:{self.ops_port}{path}") as response,
            ):
                return response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, type(exc).__name__

    async def ready(self) -> bool:
        return (await self.get("/ready"))[0] == 200

    async def metric(self, line_start: str) -> float:
        """The value of the first exposition line starting with ``line_start`` (0 when absent)."""
        status, body = await self.get("/metrics")
        for line in body.splitlines() if status == 200 else []:
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[-1])
        return 0.0


@contextlib.contextmanager
def aggregators(*procs: AggregatorProcess) -> Iterator[list[AggregatorProcess]]:
    """Start the processes; always stop them (their logs stay in the test's tmp_path)."""
    try:
        yield [p.start() for p in procs]
    finally:
        for p in procs:
            p.stop()


def expected(rows: Iterator[tuple[str, str, str, int]]) -> dict[Key, int]:
    totals: Counter[Key] = Counter()
    for package, dimension, category, downloads in rows:
        totals[(package, dimension, category)] += downloads
    return dict(totals)


def with_all(rows: dict[Key, int]) -> dict[Key, int]:
    """``rows`` plus the ``__all__`` rows the aggregator derives from them."""
    out = dict(rows)
    for (_package, dimension, category), downloads in rows.items():
        if dimension == "version":  # not in __all__: versions of different packages are unrelated
            continue
        key = ("__all__", dimension, category)
        out[key] = out.get(key, 0) + downloads
    return out


async def stored(db: asyncpg.Pool | asyncpg.Connection, day: dt.date) -> dict[Key, int]:
    rows = await db.fetch(
        "SELECT package, dimension, category, downloads FROM daily_downloads WHERE day = $1", day
    )
    return {(r["package"], r["dimension"], r["category"]): int(r["downloads"]) for r in rows}


async def completed(db: asyncpg.Pool, day: dt.date, run_id: str) -> bool:
    found = await db.fetchval("SELECT run_id FROM ingest_days WHERE day = $1", day)
    return bool(found == run_id)


async def package_days(db: asyncpg.Pool, day: dt.date) -> int:
    return int(await db.fetchval("SELECT count(*) FROM downloads_days WHERE day = $1", day))
