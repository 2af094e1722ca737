"""Auth benchmark: full logins per second through the fake GitHub, and ``/auth/me`` under wrk.

Starts ``python -m services.auth fake-github`` and ``python -m services.auth serve`` as
subprocesses against a throw-away database (on ``DATABASE_URL``'s server) and a unique Redis
namespace, then measures:

1. logins: the whole dance (``/auth/login`` -> fake authorize -> ``/auth/callback`` -> ``/auth/me``)
   for N fresh browsers, C at a time: logins/s and p50/p99 of one login;
2. ``/auth/me`` for a user tracking 20 packages (session lookup in Redis + 2 queries), with
   ``wrk -t2 -c64 -d20s --latency --timeout 10s`` after a 5 s warm-up, median of 2 runs, against
   ``/health`` on the same server as the baseline (ratio printed).

Usage: ``.venv/bin/python bench/auth.py [--logins 300] [--concurrency 8] [--duration 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import sys
import time
import uuid

import aiohttp
import asyncpg
from tqdm import tqdm

from shared.db.migrate import migrate
from shared.embedded import free_port
from shared.sessions import COOKIE_NAME

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


async def one_login(auth: str, user: str) -> tuple[float, str]:
    started = time.perf_counter()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        url = f"{auth}/auth/login?next=/user"
        async with http.get(url, allow_redirects=False) as r:
            url = r.headers["Location"] + f"&login={user}"
        async with http.get(url, allow_redirects=False) as r:
            url = r.headers["Location"]
        async with http.get(url, allow_redirects=False) as r:
            assert r.status == 303, await r.text()
        async with http.get(f"{auth}/auth/me") as r:
            assert r.status == 200
        cookie = next(c.value for c in jar if c.key == COOKIE_NAME)
    return time.perf_counter() - started, cookie


async def bench_logins(auth: str, n: int, concurrency: int) -> tuple[float, list[float], str]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    cookie = ""
    progress = tqdm(total=n, desc="logins", unit="login")

    async def run(i: int) -> None:
        nonlocal cookie
        async with gate:
            seconds, cookie = await one_login(auth, f"user{i % 50}")
            latencies.append(seconds)
            progress.update()

    started = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(n)))
    progress.close()
    return n / (time.perf_counter() - started), latencies, cookie


def parse_wrk(output: str) -> tuple[float, float, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()  # type: ignore[union-attr]
        return float(value) * UNITS[unit]

    return rps, pct("50"), pct("99")


async def wrk(url: str, seconds: int, cookie: str | None) -> tuple[float, float, float]:
    argv = ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if cookie:
        argv += ["-H", f"Cookie: {COOKIE_NAME}={cookie}"]
    proc = await asyncio.create_subprocess_exec(*argv, url, stdout=asyncio.subprocess.PIPE)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), seconds + 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode()
    if "Non-2xx" in text or "Socket errors" in text:
        raise RuntimeError(f"wrk saw errors:\n{text}")
    return parse_wrk(text)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=int, default=20)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the servers we started

    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"pypistats_bench_auth_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
    database_url = with_database(server_url, name)
    await migrate(database_url)
    fake_port, auth_port = free_port(), free_port()
    auth = f"http://127.0.0.1:{auth_port}"
    env = dict(os.environ) | {
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}",
        "PORT": str(auth_port),
        "OPS_HOST": "127.0.0.1",
        "PUBLIC_URL": auth,
        "FAKE_GITHUB_URL": f"http://127.0.0.1:{fake_port}",
        "GITHUB_CLIENT_ID": "",
        "LOG_LEVEL": "WARNING",
    }
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, "-m", "services.auth", *argv, env=env)
        for argv in (["fake-github", "--port", str(fake_port)], ["serve"])
    ]
    try:
        await wait_ready(f"{auth}/ready")
        rate, latencies, cookie = await bench_logins(auth, args.logins, args.concurrency)
        cuts = statistics.quantiles([s * 1000 for s in latencies], n=100)
        print(
            f"logins: {rate:.1f}/s at concurrency {args.concurrency} (n={args.logins}); "
            f"one login p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms",
            flush=True,
        )

        db = await asyncpg.connect(database_url)
        packages = [f"bench-pkg-{i:02d}" for i in range(20)]
        await db.executemany(
            "INSERT INTO package_index (package, first_day, last_day) VALUES ($1, current_date, current_date)",
            [(p,) for p in packages],
        )
        user_id = await db.fetchval("SELECT id FROM users ORDER BY last_login_at DESC LIMIT 1")
        await db.executemany(
            "INSERT INTO user_packages (user_id, package) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(user_id, p) for p in packages],
        )
        await db.close()

        results: dict[str, list[tuple[float, float, float]]] = {"health": [], "me": []}
        targets = {"health": (f"{auth}/health", None), "me": (f"{auth}/auth/me", cookie)}
        for url, c in targets.values():
            await wrk(url, 5, c)  # warm-up
        for _ in tqdm(range(2), desc="wrk rounds"):
            for key, (url, c) in targets.items():
                results[key].append(await wrk(url, args.duration, c))
        med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in results.items()}
        for key in ("health", "me"):
            rps, p50, p99 = med[key]
            print(f"{key:>6}: {rps:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms (median of 2 wrk runs)")
        print(f"/auth/me vs /health: {med['me'][0] / med['health'][0]:.2f} of the baseline's req/s")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 10)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
