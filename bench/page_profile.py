"""CPU of an uncached package page, rendered in process: where its time goes, and a digest of its output.

Owns the in-process measurement of issue 21's uncached package page: against a bench database
(bench.seed, reused with ``--reuse`` or seeded here and dropped afterwards unless ``--keep``) it
renders ``/packages/<p>`` for random packages the way a page-cache miss does (the fragment of
services.web.pages: the reads, the charts, the template; then the layout, the shell and the gzip
of services.web.pagebytes, without PyPI's metadata) and reports the median process CPU per
render of each stage (``time.process_time``: this process's CPU, asyncpg's decoding included,
PostgreSQL's not). ``--profile N`` then profiles N more renders with cProfile and prints the
functions with most own and cumulative time.

``--digest`` also renders every package under several ranges and bins (and each chart's CSV of
one package) and prints one hash of all of it: two checkouts that print the same digest
render the same pages. ``--root PATH`` measures another checkout (its services imported from
PATH, run with this interpreter) in a child process, then this one, against the same database:
a before and after in one run, as bench/ asks.

    .venv/bin/python -m bench.page_profile [--packages 200] [--days 181] [--renders 200]
        [--profile 40] [--digest] [--root ../before] [--reuse NAME | --name NAME --keep]
        [--database-url ADMIN_DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: The choices --digest renders every package under (their ?query as the page cache keys them).
DIGEST_QUERIES: tuple[dict[str, str], ...] = (
    {},
    {"range": "30d"},
    {"bin": "week"},
    {"bin": "month"},
    {"range": "all", "bin": "month"},
)


async def measure(url: str, renders: int, profile: int, digest: bool, seed: int) -> dict[str, Any]:
    """Median CPU per render of random packages, maybe a cProfile listing and a digest."""
    import asyncpg
    import jinja2
    from markupsafe import Markup

    from services.web import pages, ranges
    from services.web.app import inline_code
    from services.web.pagebytes import ACCOUNT_SLOT, TRACK_SLOT, Entry, Shell
    from services.web.static import StaticFiles

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(package_dir(pages) / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = StaticFiles().url
    env.filters["inline_code"] = inline_code
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        site = pages.Site(pool, env, None)
        names = [r[0] for r in await pool.fetch("SELECT package FROM package_index ORDER BY package")]
        names = [n for n in names if n != "__all__"]
        choice = ranges.Choice()
        rng = random.Random(seed)

        async def fragment(name: str, asked: ranges.Choice = choice) -> dict[str, Any]:
            return await pages.package(site, name, asked)

        def page(name: str, data: dict[str, Any]) -> bytes:
            head = pages.render(
                env,
                "package_head.html",
                package=name,
                is_all=False,
                meta=None,
                release_json=None,
                track=TRACK_SLOT,
            )
            html = pages.render(
                env,
                "layout.html",
                title=data["title"],
                content=Markup(data["html"]),
                head=Markup(head),
                through=data.get("through"),
                history_from=data.get("history_from"),
                account=ACCOUNT_SLOT,
                scripts=(),
            )
            shell = Shell.cut(html, 0.0)
            body = shell.fill("", "")
            return Entry.build(body, 0.0).gzipped

        for name in names[:5]:  # warm: templates compiled, category names learnt, statements prepared
            page(name, await fragment(name))
        frag_ms: list[float] = []
        page_ms: list[float] = []
        for _ in range(renders):
            name = rng.choice(names)
            started = time.process_time()
            data = await fragment(name)
            middle = time.process_time()
            page(name, data)
            done = time.process_time()
            frag_ms.append((middle - started) * 1000)
            page_ms.append((done - started) * 1000)
        out: dict[str, Any] = {
            "services": str(package_dir(pages)),
            "packages": len(names),
            "renders": renders,
            "fragment_ms_median": round(statistics.median(frag_ms), 2),
            "page_ms_median": round(statistics.median(page_ms), 2),
            "page_ms_p10_p90": [round(q, 2) for q in statistics.quantiles(page_ms, n=10)[::8]],
        }
        if profile:
            profiler = cProfile.Profile()
            for _ in range(profile):
                name = rng.choice(names)
                profiler.enable()
                page(name, await fragment(name))
                profiler.disable()
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.sort_stats("tottime").print_stats(18)
            stats.sort_stats("cumulative").print_stats(30)
            out["profile"] = text.getvalue()
        if digest:
            hashed = hashlib.sha256()
            for query in DIGEST_QUERIES:
                asked = ranges.parse(query, ranges.MAX_LOOKBACK)
                for name in names:
                    data = await fragment(name, asked)
                    hashed.update(json.dumps(data, sort_keys=True).encode())
            for chart in ("overall", "version", "country", "installer"):
                hashed.update((await pages.package_csv(site, names[0], chart, choice)).encode())
            out["digest"] = hashed.hexdigest()
        return out
    finally:
        await pool.close()


def package_dir(module: Any) -> Path:
    """The directory of an imported module (the web service of the checkout being measured)."""
    return Path(module.__file__).resolve().parent


async def seeded(args: argparse.Namespace) -> tuple[str, str | None]:
    """``(dsn of the database, its name to drop or None)``."""
    import asyncpg

    from bench import seed
    from tests.support.servers import with_database

    if args.reuse:
        return with_database(args.database_url, seed.checked_name(args.reuse)), None
    name = seed.checked_name(args.name or f"pypistats_bench_pageprofile_{os.getpid()}")
    print(f"seeding {name}: {args.packages} packages x {args.days} days, every dimension", flush=True)
    url = await seed.create_migrated(args.database_url, name, "history")
    conn = await asyncpg.connect(url)
    try:
        await seed.fill(conn, "history", args.packages, args.days, dimensions="all", progress=True)
    finally:
        await conn.close()
    return url, None if args.keep else name


def child(root: Path, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """:func:`measure` of the checkout at ``root``, in a child process that imports it."""
    code = (
        "import asyncio, json, sys; sys.path.insert(0, sys.argv[1]); "
        "from bench_page_profile import measure; "
        "print(json.dumps(asyncio.run(measure(sys.argv[2], *json.loads(sys.argv[3])))))"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    params = json.dumps([args.renders, args.profile, args.digest, args.seed])
    with tempfile.TemporaryDirectory() as shim:  # this file, importable beside the other checkout
        (Path(shim) / "bench_page_profile.py").write_text(Path(__file__).read_text())
        found = subprocess.run(
            [sys.executable, "-c", code, shim, url, params],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(found.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def report(label: str, found: dict[str, Any]) -> None:
    print(f"{label}: {json.dumps({k: v for k, v in found.items() if k != 'profile'})}", flush=True)
    if "profile" in found:
        print(found["profile"], flush=True)


async def run(args: argparse.Namespace) -> None:
    from bench import seed

    url, dropped = await seeded(args)
    try:
        if args.root is not None:
            print(f"measuring {args.root.resolve()} (child process)", flush=True)
            report("before", await asyncio.to_thread(child, args.root.resolve(), url, args))
        print(f"measuring {ROOT}", flush=True)
        report("this", await measure(url, args.renders, args.profile, args.digest, args.seed))
    finally:
        if dropped is not None:
            await seed.drop_database(args.database_url, dropped)
            print(f"dropped {dropped}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.page_profile", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--packages", type=int, default=200)
    parser.add_argument("--days", type=int, default=181)
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--profile", type=int, default=0, help="profile this many more renders")
    parser.add_argument(
        "--digest", action="store_true", help="hash every package's page under several choices"
    )
    parser.add_argument("--root", type=Path, help="measure this checkout first, in a child process")
    parser.add_argument("--reuse", help="an existing bench database (kept)")
    parser.add_argument("--name", help="the database to seed (default pypistats_bench_pageprofile_<pid>)")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--database-url", default=ADMIN_URL, help="an admin DSN of the server to use")
    parser.add_argument("--seed", type=int, default=1, help="of the random package choice")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
