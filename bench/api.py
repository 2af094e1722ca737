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
import subprocess
import sys
import urllib.request
import uuid

from bench.common import PACKAGE, ROOT, bare_server, drop, measure, prepare, start
from shared.embedded import free_port

PATH = f"/api/packages/{PACKAGE}/overall"


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
            "BADGE_RATE_LIMIT_REQUESTS": "1000000000",  # the badges' own limit, likewise
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
                f"{name} / bare = {results[name].rps / results['bare'].rps:.2f} (req/s), "
                f"{results['bare'].cpu_us / results[name].cpu_us:.2f} (CPU per request)"
            )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        asyncio.run(drop(admin_url, db_url))


if __name__ == "__main__":
    main()
