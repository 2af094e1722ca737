"""What the HTTP benchmarks share: the seeded throw-away database, starting servers, the baseline.

Owns the bench database (a fresh one on the given server, migrated, with one package of 181 days
written by tests/support/seed.py), starting a server subprocess and waiting for its port, and the
baseline server: a bare aiohttp handler returning fixed bytes on the same path.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import uuid
from pathlib import Path

import asyncpg

from shared.db.migrate import migrate
from shared.embedded import wait_for_port
from tests.support.seed import package_rows, seed, with_all
from tests.support.servers import with_database

PACKAGE = "bench-package"
ROOT = Path(__file__).resolve().parent.parent


def bare_server(port: int, path: str, body_file: str, content_type: str) -> None:
    """The baseline: an aiohttp handler returning the same bytes, with the same server settings."""
    from aiohttp import web

    body = Path(body_file).read_bytes()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_get(path, handler)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def prepare(admin_url: str, prefix: str = "pypistats_bench_") -> str:
    """A new migrated database holding :data:`PACKAGE` with 181 days; returns its URL."""
    name = prefix + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
    await admin.close()
    url = with_database(admin_url, name)
    await migrate(url)
    pool = await asyncpg.create_pool(url)
    assert pool is not None
    await seed(pool, with_all(package_rows(PACKAGE, 5000, dt.date(2026, 3, 31), 181)))
    await pool.close()
    return url


async def drop(admin_url: str, url: str) -> None:
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await admin.close()


def start(cmd: list[str], env: dict[str, str], port: int, timeout: float = 60) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    wait_for_port(port, timeout, proc)
    return proc
