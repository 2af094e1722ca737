"""The process supervisor of ``make run``: starts the services, labels their output, stops them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping

from shared.devstack.plan import PIPE_LIMIT, Command
from shared.logging import get_logger

log = get_logger(__name__)


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
        """Copy a child's output under its label, line by line; never stops reading (a child whose
        pipe fills up would block) and never drops output, however long a line is."""
        label = f"{name:>{self.width}} | ".encode()
        pending = b""
        while chunk := await stream.read(1 << 16):
            *lines, pending = (pending + chunk).split(b"\n")
            if len(pending) > PIPE_LIMIT:  # a huge line: pass on what there is, unfinished
                lines.append(pending)
                pending = b""
            if lines:
                sys.stdout.buffer.write(b"".join(label + line + b"\n" for line in lines))
                sys.stdout.buffer.flush()
        if pending:
            sys.stdout.buffer.write(label + pending + b"\n")
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
        if self._pumps:  # let the last lines of output through, then give up on them
            await asyncio.wait(self._pumps, timeout=2)
        for pump in self._pumps:
            pump.cancel()
        self._pumps.clear()
        self.procs.clear()


async def run_to_end(
    supervisor: Supervisor, command: Command, env: Mapping[str, str], prefix: bool = True
) -> None:
    proc = await supervisor.start(command, env, prefix=prefix, oneshot=True)
    if await proc.wait() != 0:
        raise RuntimeError(f"{command.name} failed with exit code {proc.returncode}")
