"""The I/O shell of ``make run``: servers, migration, first fill, services and proxy, in that order.

What the local stack does is described in the package docstring (``shared/devstack/__init__.py``);
the decisions (routing, command lines, which days to fill) are the pure functions of ``plan.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import signal
import socket
import sys
from collections.abc import Iterable
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from tqdm import tqdm

from shared.devstack.plan import (
    HTTP_SERVICES,
    STATE_FILE,
    WORKERS,
    Command,
    DevstackSettings,
    backfill_command,
    common_env,
    days_to_fill,
    migrate_command,
    service_commands,
)  # fmt: skip
from shared.devstack.proxy import create_proxy_app
from shared.devstack.supervisor import Supervisor, run_to_end
from shared.embedded import EmbeddedStack, free_port
from shared.logging import configure_logging, get_logger

log = get_logger(__name__)


async def complete_days(dsn: str) -> list[dt.date]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["day"] for r in await conn.fetch("SELECT day FROM ingest_days")]
    finally:
        await conn.close()


async def wait_for_days(
    dsn: str, start: dt.date, end: dt.date, supervisor: Supervisor, timeout: float
) -> None:
    """Block (with a progress bar) until the aggregator has completed every day in the span."""
    wanted = (end - start).days + 1
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with tqdm(total=wanted, desc="days aggregated", unit="day") as bar:
        while True:
            done = sum(1 for d in await complete_days(dsn) if start <= d <= end)
            bar.update(done - bar.n)
            if done >= wanted:
                return
            if dead := supervisor.exited():
                raise RuntimeError(f"process exited during the fill: {dead}")
            if loop.time() > deadline:
                raise TimeoutError(f"{done}/{wanted} days aggregated after {timeout}s")
            await asyncio.sleep(0.5)


async def wait_healthy(commands: Iterable[Command], supervisor: Supervisor, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as client:
        for command in commands:
            deadline = loop.time() + timeout
            while True:
                if dead := supervisor.exited():
                    raise RuntimeError(f"process exited during start-up: {dead}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with client.get(f"http://127.0.0.1:{command.port}/health") as response:
                        if response.status == 200 or command.any_answer:
                            break
                if loop.time() > deadline:
                    raise TimeoutError(f"{command.name} is not healthy after {timeout}s")
                await asyncio.sleep(0.2)


def check_port_free(host: str, port: int) -> None:
    """Fail before starting anything when the proxy's address is taken (say, by another make run)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise OSError(f"{host}:{port} is in use; set DEVSTACK_PORT to another port") from exc


async def serve(settings: DevstackSettings, stop: asyncio.Event) -> None:
    check_port_free(settings.devstack_host, settings.devstack_port)
    data_dir = settings.devstack_data_dir.resolve()
    given = {"postgres": settings.database_url, "redis": settings.redis_url, "nats": settings.nats_url}
    missing = {k for k, v in given.items() if not v}
    stack = EmbeddedStack(data_dir)
    supervisor = Supervisor()
    runner: web.AppRunner | None = None
    try:
        urls = {k: v for k, v in given.items() if v}
        if missing:
            log.info("starting embedded servers", servers=sorted(missing), data_dir=str(data_dir))
            urls.update(await asyncio.to_thread(
                stack.start, postgres="postgres" in missing, redis="redis" in missing, nats="nats" in missing
            ))  # fmt: skip
        env = common_env(urls, settings)
        python = sys.executable
        await run_to_end(supervisor, migrate_command(python), env)
        public_url = f"http://{settings.devstack_host}:{settings.devstack_port}"
        ports = {name: free_port() for name in (*WORKERS, *HTTP_SERVICES, "fake-github", "fake-pypi")}
        fakes = {"fake_github": not settings.github_client_id, "fake_pypi": not settings.pypi_url}
        commands = {c.name: c for c in service_commands(python, ports, public_url, **fakes)}
        span = days_to_fill(
            await complete_days(urls["postgres"]), dt.datetime.now(dt.UTC).date(), settings.devstack_days
        )
        await supervisor.start(commands["aggregator"], env)
        if span is not None:
            log.info("first fill", start=span[0].isoformat(), end=span[1].isoformat(),
                     packages=settings.devstack_packages)  # fmt: skip
            await run_to_end(supervisor, backfill_command(python, *span), env, prefix=False)
            await wait_for_days(urls["postgres"], *span, supervisor, settings.devstack_fill_timeout)
        rest = [c for name, c in commands.items() if name != "aggregator"]
        for command in rest:
            await supervisor.start(command, env)
        await wait_healthy(commands.values(), supervisor)
        upstreams = {name: f"http://127.0.0.1:{ports[name]}" for name in HTTP_SERVICES}
        runner = web.AppRunner(create_proxy_app(upstreams), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.devstack_host, settings.devstack_port).start()
        state = {"url": public_url, "ports": {c.name: c.port for c in commands.values()},
                 "pids": {c.name: p.pid for c, p in supervisor.procs if p.pid not in supervisor.oneshots}}  # fmt: skip
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / STATE_FILE).write_text(json.dumps(state, indent=2))
        log.info("stack is up", url=public_url, state=str(data_dir / STATE_FILE))
        sys.stdout.write(f"\n  pypistats-next is running at {public_url}/  (Ctrl-C stops it)\n\n")
        sys.stdout.flush()
        while not stop.is_set() and not supervisor.exited():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        if dead := supervisor.exited():
            log.error("a process exited, stopping the stack", exited=dead)
    finally:  # the shutdown runs to its end even when a Ctrl-C cancels serve() meanwhile
        cleanup = asyncio.ensure_future(shutdown(data_dir, runner, supervisor, stack))
        try:
            await asyncio.shield(cleanup)
        except asyncio.CancelledError:
            await cleanup
            raise


async def shutdown(
    data_dir: Path, runner: web.AppRunner | None, supervisor: Supervisor, stack: EmbeddedStack
) -> None:
    log.info("stopping")
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    if runner is not None:
        await runner.cleanup()
    await supervisor.stop()
    await asyncio.to_thread(stack.stop)
    log.info("stopped")


async def amain(settings: DevstackSettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(serve(settings, stop))
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not task.done():  # Ctrl-C: cancelling runs serve's finally block, which stops what it started
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return 0
    except (RuntimeError, TimeoutError, OSError, asyncpg.PostgresError) as exc:
        log.error("devstack failed", error=str(exc))
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m shared.devstack", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    settings = DevstackSettings()
    configure_logging("INFO", json_logs=False)
    return asyncio.run(amain(settings))
