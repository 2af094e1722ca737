"""Shutting the API down while it is busy: SIGTERM to ``python -m services.api serve`` while a
request waits on a locked table and Redis hangs in the middle of the cache-version read. The
process must exit within a bound, cleanly, and leave no query of its own behind in PostgreSQL.

Before the shutdown was bounded, aiohttp gave such a request 60 s twice, and a cancellation that
redis-py's send dropped (shared.tasks) kept the cleanup waiting on the refresher forever.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from shared.embedded import free_port
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[3]
SHUTDOWN_TIMEOUT_S = 1.0
#: aiohttp gives a running request the timeout twice (to finish, then once told to stop); then
#: background tasks (3 s at most), the Redis client (2 s) and the pools; the rest is slack for a
#: loaded machine.
BOUND_S = 2 * SHUTDOWN_TIMEOUT_S + 10
API_QUERIES = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'pypistats-api' AND wait_event_type = $1
"""
API_BACKENDS = """
SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pypistats-api'
"""


class FreezableProxy:
    """A TCP proxy to Redis that, once frozen, keeps what clients send (so Redis seems to hang)."""

    def __init__(self, redis_url: str) -> None:
        parts = urlsplit(redis_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.path = parts.path
        self.frozen = asyncio.Event()
        self.held = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}{self.path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers += [writer, up_writer]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, to_redis: bool) -> None:
            while data := await src.read(65536):
                if to_redis and self.frozen.is_set():
                    self.held += len(data)
                    continue
                dst.write(data)
                await dst.drain()

        try:
            await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, up_writer):
                w.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()


async def test_sigterm_while_a_request_waits_on_the_database_and_redis_hangs(
    seeded: asyncpg.Pool, database_url: str, redis_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    proxy = FreezableProxy(redis_url)
    port = free_port()
    env = service_env | {
        "REDIS_URL": await proxy.start(),
        "PORT": str(port),
        "OPS_HOST": "127.0.0.1",
        "SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT_S),
        "CACHE_VERSION_REFRESH_SECONDS": "0.1",
    }
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.api", "serve", env=env, cwd=ROOT, stdout=out, stderr=out
        )
    locker = await asyncpg.connect(database_url)
    session = aiohttp.ClientSession()
    try:

        async def listening() -> bool:
            assert proc.returncode is None, log.read_text()[-3000:]
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                return False
            writer.close()
            return True

        await wait_until(listening, timeout=60, what="the API to listen")
        async with locker.transaction():
            await locker.execute("LOCK TABLE package_index IN ACCESS EXCLUSIVE MODE")
            request = asyncio.create_task(
                session.get(f"http://127.0.0.1:{port}/api/packages/requests/recent")
            )

            async def query_waits_on_the_lock() -> bool:
                return bool(await seeded.fetchval(API_QUERIES, "Lock"))

            await wait_until(query_waits_on_the_lock, timeout=30, what="the API's query to wait on the lock")
            proxy.frozen.set()

            async def redis_hangs_mid_read() -> bool:
                return proxy.held > 0

            await wait_until(redis_hangs_mid_read, timeout=10, what="the cache-version read to hang")

            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            returncode = await asyncio.wait_for(proc.wait(), 120)
            took = time.monotonic() - started
            assert returncode == 0, log.read_text()[-3000:]
            assert took < BOUND_S, f"shutdown took {took:.1f} s\n{log.read_text()[-3000:]}"
            await asyncio.wait({request}, timeout=10)
            assert request.done()  # the client got an answer or a closed connection, not silence

        async def api_connections_gone() -> bool:
            return bool(await seeded.fetchval(API_BACKENDS) == 0)

        await wait_until(api_connections_gone, timeout=10, what="the API's connections to close")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await session.close()
        await locker.close()
        await proxy.close()
