"""API benchmark: req/s and p50/p99 of /overall (181 days), cached and uncached, against a bare handler.

Creates its own database (migrated, one package with 181 days seeded), starts three servers as
subprocesses: the API with the Redis cache, the API with the cache disabled (every request reads
PostgreSQL), and a bare aiohttp handler returning the same bytes. Each is loaded with Debian's
``wrk`` after a warm-up; medians of the runs are printed with the ratio to the bare handler.

    .venv/bin/python -m bench.api [--duration 20] [--warmup 5] [--runs 2]

Uses DATABASE_URL (an admin DSN; default the machine's PostgreSQL) and REDIS_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

from bench.common import PACKAGE, ROOT, bare_server, drop, prepare, start
from shared.embedded import free_port

PATH = f"/api/packages/{PACKAGE}/overall"


def wrk(url: str, seconds: int) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, requests) of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "--timeout", "10s", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} error responses\n{out}")

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, pct("50"), pct("99"), count


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, url: str, pid: int, args: argparse.Namespace) -> tuple[float, float, float, float]:
    """Medians of (req/s, p50 ms, p99 ms, server CPU microseconds per request) over the runs."""
    wrk(url, args.warmup)
    runs = []
    for _ in range(args.runs):
        before = cpu_seconds(pid)
        rps, p50, p99, count = wrk(url, args.duration)
        runs.append((rps, p50, p99, 1e6 * (cpu_seconds(pid) - before) / count))
    result = tuple(statistics.median(r[i] for r in runs) for i in range(4))
    print(
        f"{name:<10} {result[0]:>9.0f} req/s  p50 {result[1]:6.2f} ms  p99 {result[2]:6.2f} ms"
        f"  {result[3]:6.0f} us CPU/request",
        flush=True,
    )
    return result  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--bare-server", nargs=2, metavar=("PORT", "BODY_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(int(args.bare_server[0]), PATH, args.bare_server[1], "application/json")
        return
    admin_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    db_url = asyncio.run(prepare(admin_url))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        base = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "NAMESPACE": "bench" + uuid.uuid4().hex[:8],
            "OPS_HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_REQUESTS": "1000000000",  # counted in Redis as usual, never refused
        }
        ports, pids = {}, {}
        for name, ttl in (("cached", "600"), ("uncached", "0")):
            ports[name] = free_port()
            env = {**base, "PORT": str(ports[name]), "CACHE_TTL_SECONDS": ttl}
            procs.append(start([sys.executable, "-m", "services.api", "serve"], env, ports[name]))
            pids[name] = procs[-1].pid
        body = urllib.request.urlopen(f"http://127.0.0.1:{ports['cached']}{PATH}").read()
        body_file = ROOT / ".run" / "bench-api-body.json"
        body_file.parent.mkdir(exist_ok=True)
        body_file.write_bytes(body)
        ports["bare"] = free_port()
        cmd = [sys.executable, "-m", "bench.api", "--bare-server", str(ports["bare"]), str(body_file)]
        procs.append(start(cmd, base, ports["bare"]))
        pids["bare"] = procs[-1].pid
        print(f"body {len(body)} bytes; wrk -t2 -c64 -d{args.duration}s, {args.runs} runs, medians")
        results = {
            name: measure(name, f"http://127.0.0.1:{ports[name]}{PATH}", pids[name], args)
            for name in ("bare", "cached", "uncached")
        }
        for name in ("cached", "uncached"):
            print(
                f"{name} / bare = {results[name][0] / results['bare'][0]:.2f} (req/s), "
                f"{results['bare'][3] / results[name][3]:.2f} (CPU per request)"
            )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        asyncio.run(drop(admin_url, db_url))


if __name__ == "__main__":
    main()
