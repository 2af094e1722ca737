"""What ``make run`` shows a person: one line per step, one progress bar, the URL at the end.

Owns the split between the terminal and the log file (``.run/devstack.log``). While
:func:`captured` is active, the process's standard output and error (file descriptors 1 and 2,
so every log line, the services' labelled output, child processes and libraries that print, such
as the embedded PostgreSQL's initdb) go to the log file; the :class:`Console` it yields writes to
a duplicate of the original terminal. On a terminal the fills show a progress bar; elsewhere (a
pipe, CI) each step is one plain line, without carriage returns, and a count that takes minutes
(the background history) gets a line a minute.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Never, TextIO

from tqdm import tqdm

LOG_FILE = "devstack.log"
#: Off a terminal, how often a long-running count is printed (a line, not a bar).
PIPE_EVERY_S = 60.0


class Console:
    """Short lines for a person on ``terminal``; the details are in ``log_path``."""

    def __init__(self, terminal: TextIO, log_path: Path | None = None) -> None:
        self.terminal = terminal
        self.log_path = log_path
        self.interactive = terminal.isatty()

    def line(self, text: str = "") -> None:
        self.terminal.write(text + "\n")
        self.terminal.flush()

    @contextlib.contextmanager
    def step(self, text: str) -> Iterator[None]:
        """``  text ... done (1.2 s)``, or ``failed`` when the block raises (then re-raised)."""
        self.terminal.write(f"  {text} ... ")
        self.terminal.flush()
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.line("failed")
            raise
        self.line(f"done ({time.monotonic() - started:.1f} s)")

    def progress(self, total: int, unit: str, description: str) -> Progress:
        return Progress(self, total, unit, description)

    def fail(self, message: str) -> None:
        where = f" (details: {self.log_path})" if self.log_path is not None else ""
        self.line(f"\n  make run failed: {message}{where}")


class Progress:
    """A bar on a terminal; elsewhere one line with the count every ``every_s`` while it moves,
    and one with the final count when it is closed."""

    def __init__(
        self, console: Console, total: int, unit: str, description: str, every_s: float = PIPE_EVERY_S
    ) -> None:
        self.console, self.total, self.unit, self.description = console, total, unit, description
        self.n = 0
        self.every_s = every_s
        self.shown_at = time.monotonic()
        self.bar: tqdm[Never] | None = None
        if console.interactive:
            self.bar = tqdm(
                total=total, unit=unit, desc=f"  {description}", file=console.terminal, dynamic_ncols=True
            )

    def update_to(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n - self.n)
        elif n != self.n and n < self.total and time.monotonic() - self.shown_at >= self.every_s:
            self.console.line(f"  {self.description}: {n}/{self.total}")
            self.shown_at = time.monotonic()
        self.n = n

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            self.console.line(f"  {self.description}: {self.n}/{self.total}")


@contextlib.contextmanager
def captured(log_path: Path) -> Iterator[Console]:
    """Send file descriptors 1 and 2 to ``log_path`` (appended) for the block; yield a console on
    the terminal they pointed at before. Restores both on the way out."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[1]), "w", buffering=1, encoding="utf-8", errors="replace")
    with open(log_path, "ab") as log:
        for fd in (1, 2):
            os.dup2(log.fileno(), fd)
    try:
        yield Console(terminal, log_path)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        terminal.close()
