"""The I/O shell of ``make run``: servers, migration, first fill, services and proxy, in that order.

What the local stack does is described in the package docstring (``shared/devstack/__init__.py``);
the decisions (command lines, which days to fill) are the pure functions of ``plan.py``, the
routing is shared.frontdoor's. The terminal shows one line per step, the first fill's progress, the
URL, then the background history fill's progress and its end (``console.py``); everything else,
the services' output included, goes to ``.run/devstack.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import signal
import socket
import sys
from collections.abc import Iterable
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

from shared.devstack.console import LOG_FILE, Console, captured
from shared.devstack.plan import (
    HTTP_SERVICES,
    STATE_FILE,
    WORKERS,
    Command,
    DevstackSettings,
    FillPlan,
    backfill_command,
    common_env,
    fill_plan,
    first_fill_line,
    history_done_line,
    history_line,
    migrate_command,
    service_commands,
)  # fmt: skip
from shared.devstack.proxy import create_proxy_app
from shared.devstack.supervisor import Supervisor, run_to_end
from shared.embedded import EmbeddedStack, free_port
from shared.logging import configure_logging, get_logger
from shared.tasks import stop_task

log = get_logger(__name__)

COMPLETE_DAYS = "SELECT day FROM ingest_days"
COMPLETE_IN_SPAN = "SELECT count(*) FROM ingest_days WHERE day BETWEEN $1 AND $2"
#: How often the background history fill's progress is read.
HISTORY_POLL_S = 1.0
#: After the history backfill has ended, how long the count may stand still before the stack says
#: the history is incomplete (the aggregator skipped a day) instead of waiting for ever.
HISTORY_STALL_S = 120.0


async def complete_days(dsn: str) -> list[dt.date]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["day"] for r in await conn.fetch(COMPLETE_DAYS)]
    finally:
        await conn.close()


async def watch_history(
    dsn: str, plan: FillPlan, backfill: asyncio.subprocess.Process, console: Console
) -> None:
    """Show the background fill of the older days until every one is complete (then one line),
    or until its backfill fails or ends with days still missing (then one line saying the next
    start resumes it)."""
    assert plan.rest is not None
    start, end = plan.rest
    total = (end - start).days + 1
    bar = console.progress(total, "day", "history aggregated")
    conn: asyncpg.Connection | None = None
    loop = asyncio.get_running_loop()
    seen, moved_at = -1, loop.time()
    try:
        while True:
            try:
                conn = conn or await asyncpg.connect(dsn)
                bar.update_to(int(await conn.fetchval(COMPLETE_IN_SPAN, start, end)))
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot read the history's progress", error=type(exc).__name__)
                conn = None
            if bar.n >= total:
                bar.close()
                log.info("history complete", days=plan.days, oldest=start.isoformat())
                console.line(history_done_line(plan))
                return
            if bar.n != seen:
                seen, moved_at = bar.n, loop.time()
            if backfill.returncode == 0 and loop.time() - moved_at >= HISTORY_STALL_S:
                bar.close()  # the backfill is done, but the aggregator did not complete every day
                log.warning("history incomplete", complete=bar.n, days=total)
                console.line(f"  history: {bar.n} of {total} older days complete; the next make run fills"
                             " the rest (details in the log)")  # fmt: skip
                return
            if backfill.returncode not in (None, 0):
                bar.close()
                log.error("the history backfill failed", exit_code=backfill.returncode)
                console.line(f"  history fill stopped (the backfill exited with code {backfill.returncode});"
                             " the next make run resumes it")  # fmt: skip
                return
            await asyncio.sleep(HISTORY_POLL_S)
    except asyncio.CancelledError:
        bar.close()
        raise
    finally:
        if conn is not None:
            await conn.close()


async def wait_for_days(
    dsn: str,
    start: dt.date,
    end: dt.date,
    supervisor: Supervisor,
    backfill: asyncio.subprocess.Process,
    timeout: float,
    console: Console,
) -> None:
    """Block, with a progress bar, until the aggregator has completed every day in the span while
    the backfill publishes them (a backfill that fails ends the wait)."""
    wanted = (end - start).days + 1
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    bar = console.progress(wanted, "day", "days aggregated")
    try:
        while True:
            done = sum(1 for d in await complete_days(dsn) if start <= d <= end)
            bar.update_to(done)
            if done >= wanted:
                break
            if backfill.returncode not in (None, 0):
                raise RuntimeError(f"the backfill failed with exit code {backfill.returncode}")
            if dead := supervisor.exited():
                raise RuntimeError(f"process exited during the fill: {dead}")
            if loop.time() > deadline:
                raise TimeoutError(f"{done}/{wanted} days aggregated after {timeout}s")
            await asyncio.sleep(0.5)
    finally:
        bar.close()
    if await backfill.wait() != 0:
        raise RuntimeError(f"the backfill failed with exit code {backfill.returncode}")


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


async def serve(settings: DevstackSettings, stop: asyncio.Event, console: Console) -> None:
    check_port_free(settings.devstack_host, settings.devstack_port)  # still free after the check in main()
    data_dir = settings.devstack_data_dir.resolve()
    given = {"postgres": settings.database_url, "redis": settings.redis_url, "nats": settings.nats_url}
    missing = {k for k, v in given.items() if not v}
    stack = EmbeddedStack(data_dir)
    supervisor = Supervisor()
    runner: web.AppRunner | None = None
    history: asyncio.Task[None] | None = None
    try:
        urls = {k: v for k, v in given.items() if v}
        if missing:
            log.info("starting embedded servers", servers=sorted(missing), data_dir=str(data_dir))
            with console.step(f"starting embedded {', '.join(sorted(missing))}"):
                urls.update(await asyncio.to_thread(
                    stack.start, postgres="postgres" in missing, redis="redis" in missing, nats="nats" in missing
                ))  # fmt: skip
        env = common_env(urls, settings)
        python = sys.executable
        with console.step("migrating the database"):
            await run_to_end(supervisor, migrate_command(python), env)
        public_url = f"http://{settings.devstack_host}:{settings.devstack_port}"
        ports = {name: free_port() for name in (*WORKERS, *HTTP_SERVICES, "fake-github", "fake-pypi")}
        fakes = {"fake_github": not settings.github_client_id, "fake_pypi": not settings.pypi_url}
        commands = {
            c.name: c
            for c in service_commands(
                python, ports, public_url, **fakes, gap_days=settings.devstack_first_days - 1
            )
        }
        plan = fill_plan(
            await complete_days(urls["postgres"]),
            dt.datetime.now(dt.UTC).date(),
            settings.devstack_days,
            settings.devstack_first_days,
        )
        await supervisor.start(commands["aggregator"], env)
        if plan.first is not None:
            log.info("first fill", start=plan.first[0].isoformat(), end=plan.first[1].isoformat(),
                     packages=settings.devstack_packages)  # fmt: skip
            console.line(first_fill_line(plan, settings.devstack_packages))
            backfill = await supervisor.start(backfill_command(python, *plan.first), env, oneshot=True)
            await wait_for_days(
                urls["postgres"], *plan.first, supervisor, backfill, settings.devstack_fill_timeout, console
            )
        with console.step("starting api, web, auth and the proxy"):
            for command in (c for name, c in commands.items() if name != "aggregator"):
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
        console.line(f"\n  pypistats-next is running at {public_url}/  (Ctrl-C stops it)")
        console.line(
            f"  events: ingest -> NATS -> aggregator -> rollups.updated -> api, web; {public_url}/api/asyncapi.json\n"
        )
        if plan.rest is not None:  # the older days, newest first, while the site serves
            log.info("history fill", start=plan.rest[0].isoformat(), end=plan.rest[1].isoformat())
            console.line(history_line(plan))
            filler = await supervisor.start(
                backfill_command(python, *plan.rest, name="history"), env, oneshot=True
            )
            history = asyncio.create_task(watch_history(urls["postgres"], plan, filler, console))
        while not stop.is_set() and not supervisor.exited():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        if dead := supervisor.exited():
            log.error("a process exited, stopping the stack", exited=dead)
            console.fail(", ".join(f"{name} exited with code {code}" for name, code in dead))
    finally:  # the shutdown runs to its end even when a Ctrl-C cancels serve() meanwhile
        cleanup = asyncio.ensure_future(shutdown(data_dir, runner, supervisor, stack, console, history))
        try:
            await asyncio.shield(cleanup)
        except asyncio.CancelledError:
            await cleanup
            raise


async def shutdown(
    data_dir: Path,
    runner: web.AppRunner | None,
    supervisor: Supervisor,
    stack: EmbeddedStack,
    console: Console,
    history: asyncio.Task[None] | None = None,
) -> None:
    if history is not None:  # its progress line first, then the stop step
        await stop_task(history, 5.0)
    log.info("stopping")
    with console.step("stopping"):
        (data_dir / STATE_FILE).unlink(missing_ok=True)
        if runner is not None:
            await runner.cleanup()
        await supervisor.stop()
        await asyncio.to_thread(stack.stop)
    log.info("stopped")


async def amain(settings: DevstackSettings, console: Console) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(serve(settings, stop, console))
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
        console.fail(str(exc))
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m shared.devstack", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    settings = DevstackSettings()
    try:  # before anything is started or written: a second make run must not touch the first one's
        check_port_free(settings.devstack_host, settings.devstack_port)
    except OSError as exc:
        Console(sys.stderr).fail(str(exc))
        return 1
    log_path = settings.devstack_data_dir.resolve() / LOG_FILE
    configure_logging("INFO", json_logs=False)
    with captured(log_path) as console:
        console.line(f"pypistats-next: starting the local stack (details: {log_path})")
        code = asyncio.run(amain(settings, console))
    logging.getLogger().setLevel(
        logging.WARNING
    )  # what exit handlers log now is detail, too late for the file
    return code
