"""A backfill following the aggregator: a few days ahead of it at most, its old events purged.

Owns the two bounds that let a backfill publish years of days without years of events in the
downloads stream. The stream keeps events by *publish* time (``STREAM_RETENTION_DAYS``), so a
backfill of 2016 would otherwise keep every one of its package-days on the NATS volume for
months, and a backfill running far ahead of the aggregator stacks them up besides.

- **ahead**: before each day, the backfill waits until fewer than ``BACKFILL_AHEAD_DAYS`` of the
  days it published are still to be completed by the aggregator (read from ``ingest_days``), and
  at its end until none is. A day counts as completed when ``ingest_days`` holds it from this
  run's manifest or a later one (``manifest_seq``), so a day a scheduler pass re-ingested
  meanwhile does not hold the backfill up.
- **purge**: a day older than the stream's own window, completed from *this* run (so the
  aggregator has committed every one of its package-days), has its subjects purged from the
  stream: ``aggregator replay`` only ever covers the stream window, and older history is
  rebuilt with a backfill.

A day the aggregator does not complete while nothing else completes for ``stall_s`` (10 min; it
skipped the manifest as superseded, or it is not running) is given up on: logged, left out of
``pending`` (its events stay in the stream until they age out), so the backfill goes on instead of
waiting forever.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Protocol

import asyncpg
from nats.js import JetStreamContext

from shared.events import Subjects
from shared.logging import get_logger

log = get_logger(__name__)

COMPLETED_SQL = "SELECT day, run_id, manifest_seq FROM ingest_days WHERE day = ANY($1::date[])"
#: How often a waiting backfill says what it waits for.
REPORT_EVERY_S = 30.0
#: How long pending days may see no completion before the oldest published one is given up on.
STALL_S = 600.0


class Stopping(Protocol):
    """A flag whose ``check()`` raises once the backfill is asked to stop."""

    def check(self) -> None: ...


@dataclass(frozen=True)
class Published:
    """A day a backfill published: its run and the stream sequence of its manifest."""

    day: dt.date
    run_id: str
    manifest_seq: int


class Follower:
    """The backfill's days not yet completed by the aggregator; waits on them and purges."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        subjects: Subjects,
        *,
        ahead: int,
        purge_before: dt.date | None,
        poll_s: float = 1.0,
        stall_s: float = STALL_S,
    ) -> None:
        self.pool, self.js, self.subjects = pool, js, subjects
        self.ahead = ahead
        self.purge_before = purge_before
        self.poll_s = poll_s
        self.stall_s = stall_s
        self.pending: dict[dt.date, Published] = {}
        self.purged: list[dt.date] = []
        self.given_up: list[dt.date] = []
        self.progress_at = time.monotonic()

    def published(self, day: dt.date, run_id: str, manifest_seq: int) -> None:
        if not self.pending:
            self.progress_at = time.monotonic()  # nothing was waited for until now
        self.pending[day] = Published(day, run_id, manifest_seq)

    async def room(self, stop: Stopping | None = None) -> None:
        """Wait until another day may be published (fewer than ``ahead`` pending)."""
        await self._wait_below(self.ahead, stop)

    async def finish(self, stop: Stopping | None = None) -> None:
        """Wait until the aggregator has completed every published day."""
        await self._wait_below(1, stop)

    async def _wait_below(self, limit: int, stop: Stopping | None) -> None:
        told = time.monotonic()
        while True:
            if stop is not None:
                stop.check()
            await self.settle()
            if len(self.pending) < limit:
                return
            if time.monotonic() - self.progress_at >= self.stall_s:
                self._give_up()
                continue
            if time.monotonic() - told >= REPORT_EVERY_S:
                oldest = min(self.pending)
                log.info(
                    "backfill waiting for the aggregator",
                    pending=len(self.pending),
                    oldest=oldest.isoformat(),
                )
                told = time.monotonic()
            await asyncio.sleep(self.poll_s)

    async def settle(self) -> None:
        """Drop the completed days from ``pending``, purging the old ones completed from this run."""
        if not self.pending:
            return
        try:
            rows = await self.pool.fetch(COMPLETED_SQL, list(self.pending))
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot read ingest_days; the backfill waits", error=type(exc).__name__)
            return
        for row in rows:
            mine = self.pending.get(row["day"])
            if mine is None:
                continue
            ours = row["run_id"] == mine.run_id
            if not ours and row["manifest_seq"] < mine.manifest_seq:
                continue  # completed from an older run: ours is still to come
            del self.pending[mine.day]
            self.progress_at = time.monotonic()
            if ours and self.purge_before is not None and mine.day < self.purge_before:
                await self._purge(mine.day)

    def _give_up(self) -> None:
        """Stop waiting for the day published first among the pending ones."""
        first = min(self.pending.values(), key=lambda p: p.manifest_seq)
        del self.pending[first.day]
        self.given_up.append(first.day)
        self.progress_at = time.monotonic()
        log.warning(
            "the aggregator has not completed a backfilled day; going on without it (its events stay"
            " in the stream; ingest_days and the aggregator's log say why)",
            day=first.day.isoformat(), run_id=first.run_id, stalled_s=self.stall_s,
        )  # fmt: skip

    async def _purge(self, day: dt.date) -> None:
        stream = self.subjects.downloads_stream
        try:
            for subject in (self.subjects.daily(day), self.subjects.manifest(day)):
                await self.js.purge_stream(stream, subject=subject)
        except Exception as exc:  # the events then simply age out with the stream
            log.warning(
                "cannot purge a backfilled day's events", day=day.isoformat(), error=type(exc).__name__
            )
            return
        self.purged.append(day)
        log.info("backfilled day's events purged from the stream", day=day.isoformat())
