"""Web benchmark: server time of /packages/<p> (181 days), page cache hit (and 304) and miss,
p50/p99 and pages/s on one connection, and what Chromium transfers on a first and a repeat visit,
with the first paint and the time until the charts are drawn.

Creates its own database (migrated, one package with 181 days plus the ``__all__`` sums seeded),
starts as subprocesses a fake PyPI, the web service with its Redis page cache, the web service
with the page cache disabled (every request reads PostgreSQL and renders the templates), and a
bare aiohttp handler returning the same bytes as the baseline. Requests are sent one at a time
over a kept-alive connection, so each latency is the server's time plus a loopback round trip,
which the baseline pays too.

    .venv/bin/python -m bench.web [--requests 300] [--warmup 30] [--visits 5]

The browser half (bench.firstvisit) needs Debian's Chromium at /usr/bin/chromium; ``--visits 0``
skips it.

Uses DATABASE_URL (an admin DSN; default the machine's PostgreSQL) and REDIS_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid

import aiohttp

from bench import firstvisit
from bench.common import PACKAGE, ROOT, bare_server, drop, prepare, start
from shared.embedded import free_port

PATH = f"/packages/{PACKAGE}"


def fake_pypi(port: int) -> None:
    from aiohttp import web

    from services.web import fakepypi

    app = fakepypi.create_app({PACKAGE: fakepypi.project(PACKAGE, requires_dist=["requests>=2", "idna"])})
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def timings(
    url: str, requests: int, warmup: int, headers: dict[str, str] | None = None, status: int = 200
) -> list[float]:
    """Milliseconds of ``requests`` sequential GETs after ``warmup`` unmeasured ones."""
    out: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for i in range(warmup + requests):
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status != status:
                    raise SystemExit(f"{url}: status {response.status}")
            if i >= warmup:
                out.append((time.perf_counter() - started) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--visits", type=int, default=5, help="first visits in Chromium (0: none)")
    parser.add_argument("--bare-server", nargs=2, metavar=("PORT", "BODY_FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--fake-pypi", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(int(args.bare_server[0]), PATH, args.bare_server[1], "text/html")
        return
    if args.fake_pypi:
        fake_pypi(args.fake_pypi)
        return
    admin_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    db_url = asyncio.run(prepare(admin_url, "pypistats_bench_web_"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        pypi_port = free_port()
        procs.append(
            start(
                [sys.executable, "-m", "bench.web", "--fake-pypi", str(pypi_port)],
                dict(os.environ),
                pypi_port,
            )
        )
        base = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "NAMESPACE": "benchweb" + uuid.uuid4().hex[:8],
            "OPS_HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "PYPI_URL": f"http://127.0.0.1:{pypi_port}",
        }
        ports: dict[str, int] = {}
        for name, ttl in (("cached", "3600"), ("uncached", "0")):
            ports[name] = free_port()
            env = {**base, "PORT": str(ports[name]), "PAGE_CACHE_TTL": ttl}
            procs.append(start([sys.executable, "-m", "services.web", "serve"], env, ports[name]))
        body, etag = asyncio.run(timings_body(f"http://127.0.0.1:{ports['cached']}{PATH}"))
        body_file = ROOT / ".run" / "bench-web-body.html"
        body_file.parent.mkdir(exist_ok=True)
        body_file.write_bytes(body)
        ports["bare"] = free_port()
        cmd = [sys.executable, "-m", "bench.web", "--bare-server", str(ports["bare"]), str(body_file)]
        procs.append(start(cmd, base, ports["bare"]))
        print(f"page {len(body)} bytes; {args.requests} sequential requests after {args.warmup} warm-up")
        results: dict[str, tuple[float, float]] = {}
        # cached: a logged-out visit, the page's whole bytes from memory (services.web.pagebytes);
        # cached-gz: their gzip variant; cached-304: with the browser's ETag; uncached: fragment,
        # layout and metadata each time
        # identity unless said: the bare handler sends the uncompressed bytes
        plain = {"Accept-Encoding": "identity"}
        runs = {
            "bare": ("bare", plain, 200),
            "cached": ("cached", plain, 200),
            "cached-gz": ("cached", {"Accept-Encoding": "gzip"}, 200),
            "cached-304": ("cached", {**plain, "If-None-Match": etag}, 304),
            "uncached": ("uncached", plain, 200),
        }
        for name, (server, headers, status) in runs.items():
            url = f"http://127.0.0.1:{ports[server]}{PATH}"
            ms = asyncio.run(timings(url, args.requests, args.warmup, headers, status))
            results[name] = (statistics.median(ms), pct(ms, 99))
            print(
                f"{name:<10} p50 {results[name][0]:7.2f} ms  p99 {results[name][1]:7.2f} ms"
                f"  ~{1000 / results[name][0]:,.0f} pages/s on one connection",
                flush=True,
            )
        for name in ("cached", "cached-gz", "cached-304", "uncached"):
            print(f"{name} p50 / bare p50 = {results[name][0] / results['bare'][0]:.1f}")
        if args.visits > 0:
            url = f"http://127.0.0.1:{ports['cached']}{PATH}"
            for line in firstvisit.report(asyncio.run(firstvisit.measure(url, args.visits))):
                print(line, flush=True)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        asyncio.run(drop(admin_url, db_url))


async def timings_body(url: str) -> tuple[bytes, str]:
    """The page's body and ETag."""
    headers = {"Accept-Encoding": "identity"}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        if response.status != 200:
            raise SystemExit(f"{url}: status {response.status}: {(await response.text())[:300]}")
        return await response.read(), response.headers.get("ETag", "")


if __name__ == "__main__":
    main()
