"""Random-package reads (issues 12, 20): the API and the package page for a random package among N.

Seeds a bench database with bench.seed (or reuses one), then starts as subprocesses the API with
the response cache off (``CACHE_TTL_SECONDS=0``, every request reads PostgreSQL) and on (a TTL,
warmed first), the web service with the page cache off (``PAGE_CACHE_TTL=0``) and on (warmed),
a fake PyPI answering every name, and the baseline: a bare aiohttp handler on the same (dynamic)
routes returning a body of the typical size (the median-sized body of 51 random packages). Each
endpoint is loaded with Debian's ``wrk -t2 --latency --timeout 10s`` (64 connections, 16 for the
page) and bench/random_package.lua, which picks a random package on every request; medians of
``--runs`` runs after a ``--warmup``. Prints req/s, p50, p99, server CPU per request and the ratio
to bare for each, and bytes on disk per package-day, then a JSON document (also written to
``.run/bench-reads-<layout>-<N>.json``). The long-history endpoints (``overall_all_day``: every day
kept, ``overall_all_month``: summed per month) are measured when ``--endpoints`` names them.

Issue 23's endpoints are measured when ``--endpoints`` names them too: per random package
``version_major`` (``/version?group=major``), ``platform`` and ``abi`` (a database seeded with
``--dimensions all`` since they were added; checked before anything starts), and the global
ones, which take no package: ``trending_api`` (``/api/trending``), ``exports_index`` (``/api/exports``),
``trending_page`` (``/trending``) and ``ecosystem_page`` (``/ecosystem``). A global endpoint is
loaded through the same Lua script with a names file of one line (the path's last segment) and
the rest of the path as its prefix, so every request asks for the same path; the baseline serves
that path with its body. The discovery lists must be in the database (bench.seed builds them on
the history layout from migration 0013 on). For ``exports_index`` the aggregator's exporter
(services/aggregator/exporter.py ``export_day``) writes the last ``--export-days`` complete days
(3) into a temporary ``EXPORT_DIR`` under ``.run/`` first, removed at the end; both api servers
read it (the index is memoised by the directory's modification time in either, as in service).

"Cached" means: every package the cached run can ask for was requested once before (the API's
in-process LRU, ``LOCAL_CACHE_MB``, in front of Redis; the page's whole bytes, in memory,
``PAGE_LOCAL_CACHE_MB`` (``--page-cache-mb``), in front of Redis: a logged-out visit). With more
than ``--warm`` packages (default 20,000) the cached runs draw from a random sample of that many
packages spread over all N, since warming a page for every one of 100k packages would take most of
an hour; the uncached runs always draw from all N.

    .venv/bin/python -m bench.reads --packages 10000 [--layout history|packed|legacy] [--reuse DBNAME]
        [--root PATH] [--database-url ADMIN_DSN] [--duration 20 --warmup 5 --runs 2] [--keep]

``--workers N`` runs the api, the web service and the bare baseline with N worker processes each
(``WEB_CONCURRENCY``; CPU per request then counts every worker).

``--root PATH`` runs the api and web processes from another checkout (its ``.venv/bin/python``
if it has one, else this interpreter with ``PYTHONPATH=PATH``; the modules' files are checked to
come from PATH), so the code before a change can be measured on a database of its layout.
Uses REDIS_URL (default the machine's Redis). A seeded database is dropped at the end unless
``--keep``; a reused one is left as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import asyncpg
from redis.asyncio import Redis
from tqdm import tqdm

from bench import seed
from bench.common import ROOT, Figures, Load, any_pypi, bare_routes, measure, start, wrk
from services.aggregator.exporter import export_day
from shared.cache import CacheKeys, bump_cache_version
from shared.db.layout import Dictionary
from shared.embedded import free_port
from shared.logging import configure_logging
from tests.support.servers import with_database

LUA: Final = ROOT / "bench" / "random_package.lua"
RUN: Final = ROOT / ".run"
PACKAGE_NAMES = "SELECT package FROM package_index ORDER BY package"
SERVERS: Final = ("bare", "uncached", "cached")


@dataclass(frozen=True)
class Endpoint:
    name: str
    service: str  # "api" or "web"
    prefix: str
    suffix: str
    content_type: str
    connections: int
    #: A global endpoint (no package): its one path, ``prefix + fixed``, ``suffix`` "" (module doc).
    fixed: str | None = None

    @property
    def bare_suffix(self) -> str:
        """The baseline's suffix: endpoints that differ only in their query string get a path of
        their own there (aiohttp routes ignore the query)."""
        path = self.suffix.split("?", 1)[0]
        return path if path == self.suffix else f"{path}-{self.name}"

    @property
    def route(self) -> str:
        """The baseline's aiohttp route."""
        if self.fixed is not None:
            return self.path("")
        return f"{self.prefix}{{package}}{self.bare_suffix}"

    def path(self, package: str) -> str:
        """The path asked for ``package`` (a global endpoint's one path whatever it is given)."""
        return f"{self.prefix}{self.fixed if self.fixed is not None else package}{self.suffix}"


def global_endpoint(name: str, service: str, path: str, content_type: str, connections: int) -> Endpoint:
    """An endpoint without a package: ``path`` split into the Lua script's prefix and the one name."""
    prefix, last = path.rsplit("/", 1)
    return Endpoint(name, service, prefix + "/", "", content_type, connections, fixed=last)


ENDPOINTS: Final = (
    Endpoint("overall", "api", "/api/packages/", "/overall", "application/json", 64),
    Endpoint("python_minor", "api", "/api/packages/", "/python_minor", "application/json", 64),
    Endpoint("recent", "api", "/api/packages/", "/recent", "application/json", 64),
    Endpoint("page", "web", "/packages/", "", "text/html", 16),
    # Issue 22: the default badge (downloads/month, flat), as READMEs and shields.io ask for it.
    Endpoint("badge", "api", "/api/packages/", "/badge.svg", "image/svg+xml", 64),
    # The dimensions of issue 13 (a database seeded with --dimensions all): the version chart as
    # the API serves it by default (the 10 most downloaded versions, the rest summed as "other"),
    # and the largest breakdown of the details array.
    Endpoint("version", "api", "/api/packages/", "/version?limit=10", "application/json", 64),
    Endpoint("country", "api", "/api/packages/", "/country", "application/json", 64),
    # Long history (issue 20): the whole history kept, a point per day, and summed per month.
    Endpoint(
        "overall_all_day", "api", "/api/packages/", "/overall?start_date=2000-01-01", "application/json", 64
    ),
    Endpoint(
        "overall_all_month",
        "api",
        "/api/packages/",
        "/overall?start_date=2000-01-01&bin=month",
        "application/json",
        64,
    ),
    # Issue 23: version groups by major, the platform and abi dimensions (event schema 4) ...
    Endpoint("version_major", "api", "/api/packages/", "/version?group=major", "application/json", 64),
    Endpoint("platform", "api", "/api/packages/", "/platform", "application/json", 64),
    Endpoint("abi", "api", "/api/packages/", "/abi", "application/json", 64),
    # ... and the global ones: discovery lists, the exports' index, the trending and ecosystem pages.
    global_endpoint("trending_api", "api", "/api/trending", "application/json", 64),
    global_endpoint("exports_index", "api", "/api/exports", "application/json", 64),
    global_endpoint("trending_page", "web", "/trending", "text/html", 16),
    global_endpoint("ecosystem_page", "web", "/ecosystem", "text/html", 16),
)
#: Measured on a database without the dimensions of issue 13 unless --endpoints says otherwise
#: (one with them gets every endpoint but the long-history ones and issue 23's).
BASE_ENDPOINTS: Final = ("overall", "python_minor", "recent", "page", "badge")
#: Measured only when --endpoints names them (module doc).
NAMED_ONLY: Final = (
    "overall_all_day",
    "overall_all_month",
    "version_major",
    "platform",
    "abi",
    "trending_api",
    "exports_index",
    "trending_page",
    "ecosystem_page",
)
HAS_CATEGORIES = "SELECT EXISTS (SELECT 1 FROM categories WHERE dimension = $1)"
HAS_LISTS = "SELECT to_regclass('discovery_lists') IS NOT NULL"
LISTS = "SELECT count(*) FROM discovery_lists"
#: What an endpoint needs in the database: cells of its dimension, or the discovery lists.
NEEDS: Final = {
    "platform": "platform cells (bench.seed --dimensions all)",
    "abi": "abi cells (bench.seed --dimensions all)",
    "trending_api": "discovery lists (bench.seed, history layout)",
    "trending_page": "discovery lists (bench.seed, history layout)",
}
LAST_DAYS = "SELECT day FROM ingest_days ORDER BY day DESC LIMIT $1"


@dataclass(frozen=True)
class Code:
    """Where the api and web processes come from."""

    root: Path
    python: str
    env: dict[str, str]
    commit: str


def code_at(root: Path | None) -> Code:
    """The interpreter and environment that run the services of ``root`` (this checkout by default),
    after checking that the imported modules really are that tree's."""
    root = (root or ROOT).resolve()
    venv = root / ".venv" / "bin" / "python"
    python = str(venv) if venv.exists() else sys.executable
    env = {"PYTHONPATH": str(root)} if root != ROOT else {}
    probe = "import services.api.views, services.web.pages, shared.rollups as r; print(r.__file__)"
    where = subprocess.run(
        [python, "-c", probe], cwd=root, env={**os.environ, **env}, check=True, capture_output=True, text=True
    ).stdout.strip()
    if not Path(where).resolve().is_relative_to(root):
        raise SystemExit(f"--root {root}: the services would be imported from {where}")
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return Code(root, python, env, commit)


async def missing(url: str, endpoints: list[str]) -> list[str]:
    """The endpoints of ``endpoints`` whose data (:data:`NEEDS`) the database lacks."""
    conn = await asyncpg.connect(url)
    try:
        out = []
        for name in endpoints:
            if name in ("platform", "abi"):
                found = await conn.fetchval(HAS_CATEGORIES, name)
            elif name in ("trending_api", "trending_page"):
                found = await conn.fetchval(HAS_LISTS) and await conn.fetchval(LISTS) > 0
            else:
                continue
            if not found:
                out.append(f"{name} needs {NEEDS[name]}")
        return out
    finally:
        await conn.close()


async def export_last_days(url: str, directory: Path, days: int) -> list[dt.date]:
    """The last ``days`` complete days exported into ``directory`` by the aggregator's exporter."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    try:
        wanted = [r["day"] for r in await pool.fetch(LAST_DAYS, days)]
        names = Dictionary()
        done = []
        for day in tqdm(wanted, desc="export", unit="day", leave=False):
            exported = await export_day(pool, names, directory, day, force=True)
            if exported is None:
                raise SystemExit(f"exports_index: {day} could not be exported (not complete, or retention)")
            done.append(day)
        return done
    finally:
        await pool.close()


async def package_names(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r["package"] for r in await conn.fetch(PACKAGE_NAMES)]
    finally:
        await conn.close()


async def fetch_all(base: str, paths: list[str], concurrency: int, desc: str) -> list[bytes]:
    """GET every path (in order, ``concurrency`` at a time); any non-200 answer is an error."""
    bodies: list[bytes] = [b""] * len(paths)
    queue = list(enumerate(paths))
    bar = tqdm(total=len(paths), desc=desc, unit="req", leave=False, disable=len(paths) < 100)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, timeout=timeout) as session:

        async def worker() -> None:
            while queue:
                i, path = queue.pop()
                async with session.get(path) as response:
                    if response.status != 200:
                        raise SystemExit(f"{base}{path}: status {response.status}")
                    bodies[i] = await response.read()
                bar.update()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    bar.close()
    return bodies


def median_body(bodies: list[bytes]) -> bytes:
    return sorted(bodies, key=len)[len(bodies) // 2]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reads", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--packages", type=int, default=10_000, help="packages to seed (ignored with --reuse)"
    )
    parser.add_argument("--days", type=int, default=181)
    parser.add_argument("--layout", choices=("history", "packed", "legacy"), default="history")
    parser.add_argument("--reuse", metavar="DBNAME", help="a bench database kept by bench.seed --keep")
    parser.add_argument("--database-url", default=seed.ADMIN_URL, help="an admin DSN of the server to use")
    parser.add_argument("--root", type=Path, help="run api/web from this checkout")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--warm", type=int, default=20_000, help="packages the cached runs draw from at most")
    parser.add_argument(
        "--endpoints",
        help=f"comma-separated, of {','.join(e.name for e in ENDPOINTS)} (default: all of them on a database"
        f" seeded with --dimensions all, else {','.join(BASE_ENDPOINTS)})",
    )
    parser.add_argument(
        "--dimensions",
        choices=("base", "all"),
        help="what to seed (bench.seed --dimensions; ignored with --reuse)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes of the api, the web service and the bare baseline alike (WEB_CONCURRENCY)",
    )
    parser.add_argument(
        "--rollover",
        type=int,
        default=0,
        metavar="SECONDS",
        help="also measure the cached api over SECONDS of steady load, then over the SECONDS right"
        " after a day completes (the cache version bumped at the start), on the first api endpoint",
    )
    parser.add_argument(
        "--page-cache-mb",
        type=int,
        default=64,
        help="PAGE_LOCAL_CACHE_MB of the cached web service (the pages a worker keeps in memory)",
    )
    parser.add_argument(
        "--export-days",
        type=int,
        default=3,
        help="complete days the exporter writes for exports_index (the newest ones)",
    )
    parser.add_argument("--keep", action="store_true", help="keep a seeded database")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bare-server", nargs=2, metavar=("PORT", "ROUTES_JSON"), help=argparse.SUPPRESS)
    parser.add_argument("--fake-pypi", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


class Bench:
    """One run: the servers it started, the names files, the figures."""

    def __init__(self, args: argparse.Namespace, db_url: str, code: Code) -> None:
        self.args, self.db_url, self.code = args, db_url, code
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: dict[tuple[str, str], int] = {}  # (service, mode) -> port
        self.pids: dict[tuple[str, str], int] = {}
        self.namespace = namespace = "benchreads" + uuid.uuid4().hex[:8]
        self.env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "NAMESPACE": namespace,
            "OPS_HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_REQUESTS": "1000000000",  # counted in Redis as usual, never refused
            "BADGE_RATE_LIMIT_REQUESTS": "1000000000",  # the badges' own limit, likewise
            "WEB_CONCURRENCY": str(args.workers),
        }

    def launch(self, key: tuple[str, str], cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> int:
        port = free_port()
        self.procs.append(start(cmd, {**env, "PORT": str(port)}, port, cwd=cwd))
        self.ports[key], self.pids[key] = port, self.procs[-1].pid
        return port

    def start_services(self) -> None:
        pypi = self.launch(("pypi", ""), [sys.executable, "-m", "bench.reads", "--fake-pypi", "0"], self.env)
        self.env["PYPI_URL"] = f"http://127.0.0.1:{pypi}"
        code_env = {**self.env, **self.code.env}
        for mode, api_ttl, page_ttl in (("uncached", "0", "0"), ("cached", "3600", "3600")):
            env = {**code_env, "CACHE_TTL_SECONDS": api_ttl, "PAGE_CACHE_TTL": page_ttl}
            env["PAGE_LOCAL_CACHE_MB"] = str(self.args.page_cache_mb)
            for service in ("api", "web"):
                cmd = [self.code.python, "-m", f"services.{service}", "serve"]
                self.launch((service, mode), cmd, env, cwd=self.code.root)

    def url(self, service: str, mode: str) -> str:
        return f"http://127.0.0.1:{self.ports[(service, mode)]}"

    def start_bare(self, endpoints: list[Endpoint], sample: list[str]) -> dict[str, int]:
        """The baseline, serving each endpoint's median-sized body of the sample; returns body sizes."""
        routes, sizes = [], {}
        for e in endpoints:
            paths = [e.path("")] if e.fixed is not None else [e.path(p) for p in sample]
            bodies = asyncio.run(fetch_all(self.url(e.service, "uncached"), paths, 4, e.name))
            body = median_body(bodies)
            sizes[e.name] = len(body)
            body_file = RUN / f"bench-reads-{e.name}.body"
            body_file.write_bytes(body)
            routes.append((e.route, str(body_file), e.content_type))
        spec = RUN / "bench-reads-bare.json"
        spec.write_text(json.dumps(routes))
        self.launch(
            ("bare", ""), [sys.executable, "-m", "bench.reads", "--bare-server", "0", str(spec)], self.env
        )
        return sizes

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        asyncio.run(forget(self.env["REDIS_URL"], self.namespace))


async def forget(redis_url: str, namespace: str) -> None:
    """Delete every Redis key of the run's namespace (cached bodies and pages: gigabytes at 100k)."""
    client = Redis.from_url(redis_url)
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{namespace}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await client.unlink(*batch)
                batch.clear()
        if batch:
            await client.unlink(*batch)
    finally:
        await client.aclose()


def run(args: argparse.Namespace, db_name: str, storage: dict[str, Any], code: Code) -> dict[str, Any]:
    db_url = with_database(args.database_url, db_name)
    names = asyncio.run(package_names(db_url))
    rng = random.Random(args.seed)
    warm_set = names if len(names) <= args.warm else rng.sample(names, args.warm)
    sample = rng.sample(names, min(51, len(names)))
    RUN.mkdir(exist_ok=True)
    all_file = write_lines(RUN / "bench-reads-names.txt", names)
    warm_file = write_lines(RUN / "bench-reads-warm.txt", warm_set)
    every = [e.name for e in ENDPOINTS if e.name not in NAMED_ONLY]
    every = every if storage["dimensions"] == "all" else list(BASE_ENDPOINTS)
    wanted = args.endpoints.split(",") if args.endpoints else every
    unknown = set(wanted) - {e.name for e in ENDPOINTS}
    if unknown:
        raise SystemExit(f"--endpoints: unknown {sorted(unknown)}")
    lacking = asyncio.run(missing(db_url, wanted))
    if lacking:
        raise SystemExit(f"{db_name}: " + "; ".join(lacking))
    endpoints = [e for e in ENDPOINTS if e.name in wanted]
    # a global endpoint's names file: its one name (Endpoint.fixed)
    fixed_files = {
        e.name: write_lines(RUN / f"bench-reads-{e.name}.names.txt", [e.fixed])
        for e in endpoints
        if e.fixed is not None
    }
    bench = Bench(args, db_url, code)
    results: dict[str, dict[str, Figures]] = {}
    exports = None
    try:
        if "exports_index" in wanted:
            exports = Path(tempfile.mkdtemp(prefix="bench-reads-exports-", dir=RUN))
            started = time.monotonic()
            days = asyncio.run(export_last_days(db_url, exports, args.export_days))
            print(
                f"exported {len(days)} days ({days[-1]}..{days[0]}) into {exports}"
                f" in {time.monotonic() - started:.1f} s (services/aggregator/exporter.py)",
                flush=True,
            )
            bench.env["EXPORT_DIR"] = str(exports)
        bench.start_services()
        sizes = bench.start_bare(endpoints, sample)
        warm_seconds = {}
        for e in endpoints:
            started = time.monotonic()
            paths = [e.path("")] if e.fixed is not None else [e.path(p) for p in warm_set]
            asyncio.run(fetch_all(bench.url(e.service, "cached"), paths, 16, f"warm {e.name}"))
            warm_seconds[e.name] = round(time.monotonic() - started, 1)
        print(
            f"load average {os.getloadavg()[0]:.1f}; warmed {len(warm_set)} packages: {warm_seconds} s",
            flush=True,
        )
        for e in endpoints:
            print(f"{e.path('<p>')}: {sizes[e.name]}-byte body at bare, -c{e.connections}", flush=True)
            results[e.name] = {}
            for server in SERVERS:
                files = warm_file if server == "cached" else all_file
                files = fixed_files.get(e.name, files)
                suffix = e.bare_suffix if server == "bare" else e.suffix
                load = Load(e.connections, LUA, (str(files), e.prefix, suffix))
                base = bench.url("bare", "") if server == "bare" else bench.url(e.service, server)
                pid = bench.pids[("bare", "")] if server == "bare" else bench.pids[(e.service, server)]
                results[e.name][server] = measure(server, base + "/", pid, args, load)
        rollover = None
        api_endpoints = [e for e in endpoints if e.service == "api" and e.fixed is None]
        if args.rollover and api_endpoints:
            rollover = measure_rollover(bench, api_endpoints[0], warm_file, args.rollover)
    finally:
        bench.stop()
        if exports is not None:
            shutil.rmtree(exports, ignore_errors=True)
    return {
        "database": db_name,
        "code": {"root": str(code.root), "commit": code.commit},
        "packages": len(names),
        "cached_draws_from": len(warm_set),
        "storage": storage,
        "body_bytes": sizes,
        "wrk": {"duration": args.duration, "warmup": args.warmup, "runs": args.runs},
        "load_average_end": round(os.getloadavg()[0], 2),
        "results": {e: {s: asdict(f) for s, f in r.items()} for e, r in results.items()},
        "ratios": {
            e: {s: round(r[s].rps / r["bare"].rps, 4) for s in SERVERS[1:]} for e, r in results.items()
        },
        "rollover": rollover,
    }


def measure_rollover(bench: Bench, e: Endpoint, names_file: Path, seconds: int) -> dict[str, Any]:
    """p99 of the cached api under the random-package load: ``seconds`` steady, then the
    ``seconds`` right after the cache version is bumped (what a day's completion does: every
    cached body is of the day before). wrk stops the bench on any error response."""
    load = Load(e.connections, LUA, (str(names_file), e.prefix, e.suffix))
    url = bench.url("api", "cached") + "/"
    steady = wrk(url, seconds, load)
    asyncio.run(bump(bench.env["REDIS_URL"], bench.namespace))
    after = wrk(url, seconds, load)
    out = {
        "endpoint": e.name,
        "seconds": seconds,
        "steady": {"rps": steady[0], "p50_ms": steady[1], "p99_ms": steady[2]},
        "after_day": {"rps": after[0], "p50_ms": after[1], "p99_ms": after[2]},
        "p99_ratio": round(after[2] / steady[2], 2),
    }
    print(
        f"rollover {e.name}: steady p99 {steady[2]:.2f} ms, first {seconds} s after a day {after[2]:.2f} ms",
        flush=True,
    )
    return out


async def bump(redis_url: str, namespace: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        await bump_cache_version(client, CacheKeys(f"{namespace}:"))
    finally:
        await client.aclose()


#: Goals as ratios to bare in the same run: issue 21's for the 180-day reads (the package page
#: with every dimension), issue 20's for the long history.
GOALS: Final = (
    ("uncached", "overall", 0.3),
    ("uncached", "recent", 0.35),
    ("uncached", "python_minor", 0.1),
    ("uncached", "page", 0.02),
    ("uncached", "overall_all_month", 0.15),
    ("uncached", "overall_all_day", 0.05),
)
CACHED_GOALS: Final = (("cached", "page", 0.5), ("cached", "overall", 0.8), ("cached", "badge", 0.7))


def report(out: dict[str, Any]) -> None:
    storage = out["storage"]
    print(
        f"\n{out['packages']} packages, {storage['layout']} layout, {storage['dimensions']} dimensions,"
        f" code {out['code']['commit']}: "
        f"{storage['bytes_per_package_day']} B per package-day ({storage['package_days']} package-days)"
    )
    print("| endpoint | server | req/s | p50 ms | p99 ms | CPU us/req | timeouts | ratio to bare |")
    print("|---|---|---|---|---|---|---|---|")
    for e, by_server in out["results"].items():
        for s, f in by_server.items():
            ratio = "1" if s == "bare" else f"{out['ratios'][e][s]:.3f}"
            print(
                f"| {e} | {s} | {f['rps']:.0f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | {f['cpu_us']:.0f} | {f['timeouts']} | {ratio} |"
            )
    for mode, endpoint, goal in GOALS + CACHED_GOALS:
        if endpoint in out["ratios"]:
            ratio = out["ratios"][endpoint][mode]
            print(f"goal {mode} {endpoint} >= {goal}: {ratio:.3f} {'met' if ratio >= goal else 'NOT met'}")
    rollover = out.get("rollover")
    if rollover:
        ratio = rollover["p99_ratio"]
        print(
            f"goal p99 in the {rollover['seconds']} s after a day within 3x of steady: {ratio:.2f}x"
            f" {'met' if ratio <= 3 else 'NOT met'} (no error response: wrk would have stopped the run)"
        )
    size = storage["bytes_per_package_day"]
    print(f"goal storage <= 150 B per package-day: {size} {'met' if size <= 150 else 'NOT met'}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.bare_server:
        routes = [tuple(r) for r in json.loads(Path(args.bare_server[1]).read_text())]
        bare_routes(int(os.environ.get("PORT", args.bare_server[0])), routes)
        return
    if args.fake_pypi is not None:
        any_pypi(int(os.environ.get("PORT", args.fake_pypi)))
        return
    configure_logging("WARNING")
    code = code_at(args.root)
    print(f"services from {code.root} ({code.commit}) with {code.python}", flush=True)
    name = seed.checked_name(args.reuse) if args.reuse else seed.database_name(args.layout, args.packages)
    try:
        if args.reuse:
            storage = asyncio.run(seed.storage(args.database_url, name)).as_dict()
        else:
            storage = asyncio.run(
                seed.seed_database(
                    args.database_url, name, args.layout, args.packages, args.days, args.seed, args.dimensions
                )
            )
        print(json.dumps(storage), flush=True)
        out = run(args, name, storage, code)
    finally:
        if not (args.reuse or args.keep):
            asyncio.run(seed.drop_database(args.database_url, name))
    report(out)
    path = (
        RUN / f"bench-reads-{out['storage']['layout']}-{out['storage']['dimensions']}-{out['packages']}.json"
    )
    path.write_text(json.dumps(out, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
