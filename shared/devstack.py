"""The one-command local stack behind ``make run``: ``python -m shared.devstack``.

Owns starting everything on one machine: embedded PostgreSQL/Redis/NATS under ``.run/`` (or the
servers named by ``DATABASE_URL``/``REDIS_URL``/``NATS_URL``), the migration, a first fill of
synthetic days through the real pipeline (ingest -> NATS -> aggregator), the services as
subprocesses with their output prefixed, and a reverse proxy that routes ``/api`` and ``/auth`` like
the Kubernetes ingress. Ctrl-C stops everything it started. The pure parts (routing, command lines,
which days to fill) are functions without I/O; the rest is a thin asyncio shell around them.
It never imports a service: each one is started as ``python -m services.<name>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from multidict import CIMultiDict
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from tqdm import tqdm

from shared.embedded import EmbeddedStack, free_port
from shared.logging import configure_logging, get_logger

log = get_logger(__name__)

#: Path prefix -> service, checked in order; the same table as the Helm ingress and the compose proxy.
ROUTES: tuple[tuple[str, str], ...] = (("/api", "api"), ("/auth", "auth"), ("/", "web"))
HTTP_SERVICES = ("api", "web", "auth")
#: Written into the data folder while the stack is up: the URL and each process's port and pid.
STATE_FILE = "devstack.json"
WORKERS = ("aggregator", "ingest")
#: Headers that describe one connection, never forwarded by a proxy (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "content-length"}
)  # fmt: skip


class DevstackSettings(BaseSettings):
    """``make run`` settings. The service URLs stay unset to mean "start embedded servers"."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    devstack_host: str = Field("127.0.0.1", description="Address the local reverse proxy listens on.")
    devstack_port: int = Field(8000, ge=1, le=65535, description="Port of the local reverse proxy.")
    devstack_packages: int = Field(3000, ge=1, description="Synthetic packages in the first fill.")
    devstack_days: int = Field(180, ge=1, le=3660, description="Days filled on the first start.")
    devstack_data_dir: Path = Field(Path(".run"), description="Folder of the embedded servers' data.")
    devstack_fill_timeout: float = Field(1800.0, gt=0, description="Seconds allowed for the first fill.")
    database_url: str | None = Field(None, description="PostgreSQL to use instead of the embedded one.")
    redis_url: str | None = Field(None, description="Redis to use instead of the embedded one.")
    nats_url: str | None = Field(None, description="NATS to use instead of the embedded one.")
    namespace: str = Field("", description="NATS subject/stream and Redis key prefix passed to services.")
    synthetic_seed: int = Field(42, description="Seed of the synthetic source.")
    github_client_id: str | None = Field(None, description="A real GitHub app; unset starts the fake.")


# ---------------------------------------------------------------- pure core


def route_for(path: str, routes: Iterable[tuple[str, str]] = ROUTES) -> str:
    """The service answering ``path``: prefixes match whole path segments, like an ingress Prefix."""
    for prefix, service in routes:
        if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
            return service
    raise ValueError(f"no route for {path!r}")


def days_to_fill(complete: Iterable[dt.date], today: dt.date, days: int) -> tuple[dt.date, dt.date] | None:
    """The ``(start, end)`` span covering every missing day of the last ``days`` closed days."""
    end = today - dt.timedelta(days=1)
    window = [end - dt.timedelta(days=i) for i in range(days)]
    done = set(complete)
    missing = [d for d in window if d not in done]
    if not missing:
        return None
    return min(missing), max(missing)


@dataclass(frozen=True)
class Command:
    """One process to start: its name (the log prefix), argv, extra env and HTTP port."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None
    #: Up when ``/health`` answers 200; the fake GitHub has no ops routes, any HTTP answer will do.
    any_answer: bool = False


def common_env(urls: Mapping[str, str], settings: DevstackSettings) -> dict[str, str]:
    return {
        "ENV": "local",
        "DATABASE_URL": urls["postgres"],
        "REDIS_URL": urls["redis"],
        "NATS_URL": urls["nats"],
        "NAMESPACE": settings.namespace,
        "OPS_HOST": "127.0.0.1",
        "SOURCE": "synthetic",
        "SYNTHETIC_PACKAGES": str(settings.devstack_packages),
        "SYNTHETIC_SEED": str(settings.synthetic_seed),
    }


def migrate_command(python: str) -> Command:
    return Command("migrate", (python, "-m", "shared.db.migrate"))


def backfill_command(python: str, start: dt.date, end: dt.date) -> Command:
    argv = (python, "-m", "services.ingest", "backfill", "--start", start.isoformat(), "--end",
            end.isoformat(), "--source", "synthetic")  # fmt: skip
    return Command("backfill", argv)


def service_commands(
    python: str, ports: Mapping[str, int], public_url: str, fake_github: bool
) -> list[Command]:
    """The long-running processes, in start order; ``ports`` has one entry per name."""
    commands = [
        Command(
            name, (python, "-m", f"services.{name}", "serve"), {"OPS_PORT": str(ports[name])}, ports[name]
        )
        for name in WORKERS
    ]
    auth_env = {"PORT": str(ports["auth"]), "PUBLIC_URL": public_url}
    if fake_github:  # auth logs in against the fake when GITHUB_CLIENT_ID is empty
        argv = (python, "-m", "services.auth", "fake-github", "--port", str(ports["fake-github"]))
        commands.append(Command("fake-github", argv, {}, ports["fake-github"], any_answer=True))
        auth_env.update(FAKE_GITHUB_URL=f"http://127.0.0.1:{ports['fake-github']}", GITHUB_CLIENT_ID="")
    for name in HTTP_SERVICES:
        env = auth_env if name == "auth" else {"PORT": str(ports[name]), "PUBLIC_URL": public_url}
        if name == "api":
            env = {**env, "TRUSTED_PROXY_COUNT": "1"}  # the devstack proxy appends X-Forwarded-For
        commands.append(Command(name, (python, "-m", f"services.{name}", "serve"), env, ports[name]))
    return commands


def forward_headers(headers: Mapping[str, str], client: str, host: str, scheme: str) -> CIMultiDict[str]:
    """Request headers for the upstream: hop-by-hop ones dropped, ``X-Forwarded-*`` appended."""
    out: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP | {"host"}
    )
    previous = out.popall("X-Forwarded-For", [])
    out["X-Forwarded-For"] = ", ".join([*previous, client])
    out["X-Forwarded-Host"] = host
    out["X-Forwarded-Proto"] = scheme
    out["Host"] = host
    return out


# ---------------------------------------------------------------- reverse proxy


UPSTREAMS = web.AppKey("upstreams", dict[str, str])
CLIENT = web.AppKey("client", aiohttp.ClientSession)


async def proxy(request: web.Request) -> web.StreamResponse:
    """Forward the request unchanged (no redirects followed, no decompression) to its service."""
    base = request.app[UPSTREAMS][route_for(request.path)]
    headers = forward_headers(request.headers, request.remote or "", request.host, request.scheme)
    try:
        async with request.app[CLIENT].request(
            request.method, base + request.rel_url.raw_path_qs, headers=headers,
            data=request.content if request.can_read_body else None, allow_redirects=False,
        ) as upstream:  # fmt: skip
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers.add(key, value)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
    except aiohttp.ClientError as exc:
        log.warning("upstream unavailable", path=request.path, error=type(exc).__name__)
        return web.json_response({"error": {"status": 502, "message": "service unavailable"}}, status=502)


def create_proxy_app(upstreams: Mapping[str, str]) -> web.Application:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[UPSTREAMS] = dict(upstreams)

    async def client_ctx(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
        app[CLIENT] = aiohttp.ClientSession(
            timeout=timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        )
        yield
        await app[CLIENT].close()

    app.cleanup_ctx.append(client_ctx)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app


# ---------------------------------------------------------------- process shell


class Supervisor:
    """Starts subprocesses in their own session (the terminal's Ctrl-C reaches only us), prefixes
    their output, and stops them all on shutdown."""

    def __init__(self) -> None:
        self.procs: list[tuple[Command, asyncio.subprocess.Process]] = []
        self.oneshots: set[int] = set()  # pids of commands expected to exit (migrate, backfill)
        self._pumps: list[asyncio.Task[None]] = []
        self.width = 11

    async def start(
        self, command: Command, base_env: Mapping[str, str], prefix: bool = True, oneshot: bool = False
    ) -> asyncio.subprocess.Process:
        env = {**os.environ, **base_env, **command.env}
        out = asyncio.subprocess.PIPE if prefix else None
        proc = await asyncio.create_subprocess_exec(
            *command.argv, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT if prefix else None,
            start_new_session=True,
        )  # fmt: skip
        self.procs.append((command, proc))
        if oneshot:
            self.oneshots.add(proc.pid)
        if prefix and proc.stdout is not None:
            self._pumps.append(asyncio.create_task(self._pump(command.name, proc.stdout)))
        log.info("started", process=command.name, pid=proc.pid)
        return proc

    async def _pump(self, name: str, stream: asyncio.StreamReader) -> None:
        label = f"{name:>{self.width}} | ".encode()
        while line := await stream.readline():
            sys.stdout.buffer.write(label + line)
            sys.stdout.buffer.flush()

    def exited(self) -> list[tuple[str, int]]:
        """Long-running processes that have exited (one-shot commands are expected to)."""
        return [
            (c.name, p.returncode)
            for c, p in self.procs
            if p.returncode is not None and p.pid not in self.oneshots
        ]

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to every process still running, at once; SIGKILL to those left after ``grace``."""
        running = [(c, p) for c, p in self.procs if p.returncode is None]
        for _, proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()

        async def reap(command: Command, proc: asyncio.subprocess.Process) -> None:
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                log.warning("killing", process=command.name, pid=proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

        await asyncio.gather(*(reap(c, p) for c, p in running))
        for pump in self._pumps:
            pump.cancel()
        self.procs.clear()


async def run_to_end(
    supervisor: Supervisor, command: Command, env: Mapping[str, str], prefix: bool = True
) -> None:
    proc = await supervisor.start(command, env, prefix=prefix, oneshot=True)
    if await proc.wait() != 0:
        raise RuntimeError(f"{command.name} failed with exit code {proc.returncode}")


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
        ports = {name: free_port() for name in (*WORKERS, *HTTP_SERVICES, "fake-github")}
        commands = {
            c.name: c for c in service_commands(python, ports, public_url, not settings.github_client_id)
        }
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


if __name__ == "__main__":
    sys.exit(main())
