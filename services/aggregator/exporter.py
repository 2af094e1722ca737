"""Bulk exports of complete days: which days are owed one, exporting a day, the background task.

Owns producing the files of shared/exports.py in ``EXPORT_DIR``. :func:`export_day` reads the day
in one read-only REPEATABLE READ transaction (one snapshot: the day's completion in
``ingest_days`` and every package's counts agree, even while a re-completion or a compaction
commits meanwhile), through a cursor in chunks of :data:`CHUNK_PACKAGES` packages: open
package-days and, for a day of a compacted month (a late re-ingest, or the ``export`` command on
old days), the month rows (services/aggregator/export_rows.py). Decoding and writing run in a
thread, so the event loop keeps consuming meanwhile.

Why it is idempotent and crash-safe: a day's files are a pure function of the committed store
at one snapshot; they are replaced whole by renames, the sidecar last (export_files.py), and the
sidecar names the completion (run, manifest sequence) the files hold. A day is *owed* an export
when its completion in ``ingest_days`` differs from its sidecar's; exporting it again after a
crash, a redelivery or by two replicas at once (a session advisory lock per day serialises them)
ends with the same files. :class:`Exporter` runs beside the consumer: a completed day only wakes
it (the completion transaction and ``rollups.updated`` never wait for an export), and it looks
for owed days when it starts, so a day whose export a crash interrupted is exported then.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import asyncpg

from services.aggregator.export_files import DayFiles, sweep
from services.aggregator.export_rows import DAY_ROWS, day_row_args, extract, table_of
from shared.db.layout import Dictionary
from shared.exports import Sidecar, read_sidecar
from shared.logging import get_logger

log = get_logger(__name__)

#: Packages per chunk read from the cursor (one row group): ~100 counts each with every dimension.
CHUNK_PACKAGES: Final = 2000
#: pg_advisory_lock(class, day ordinal): one exporter of a day at a time across replicas.
EXPORT_LOCK_CLASS: Final = 4_240_423
LOCK = "SELECT pg_advisory_lock($1::int, $2::int)"
UNLOCK = "SELECT pg_advisory_unlock($1::int, $2::int)"
COMPLETION = "SELECT run_id, manifest_seq, completed_at FROM ingest_days WHERE day = $1"
CUTOFF = "SELECT coalesce(max(cutoff), '-infinity'::date) FROM retention_state"
#: Days completed within the last $1 days (the background exporter's candidates), newest first.
RECENTLY_COMPLETED = """
SELECT day, run_id, manifest_seq FROM ingest_days
WHERE completed_at >= now() - make_interval(days => $1) ORDER BY day DESC
"""
COMPLETE_BETWEEN = "SELECT day FROM ingest_days WHERE day BETWEEN $1 AND $2 ORDER BY day DESC"
#: Seconds the background exporter waits after a failure before looking again.
RETRY_S: Final = 10.0


@dataclass(frozen=True)
class Exported:
    day: dt.date
    rows: int
    packages: int
    seconds: float
    sidecar: Sidecar


async def export_day(
    pool: asyncpg.Pool, names: Dictionary, directory: Path, day: dt.date, *, force: bool = False
) -> Exported | None:
    """Write ``day``'s files unless they already hold its completion (``force``: write anyway);
    None when the day is not complete, hidden by retention, or already exported."""
    started = time.perf_counter()
    async with pool.acquire() as conn:
        await conn.execute(LOCK, EXPORT_LOCK_CLASS, day.toordinal())
        try:
            # The snapshot is taken after the lock: an exporter that waited sees what the one
            # before it exported and skips the day.
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                done = await conn.fetchrow(COMPLETION, day)
                if done is None or day < await conn.fetchval(CUTOFF):
                    return None
                found = await asyncio.to_thread(read_sidecar, directory, day)
                if not force and found is not None and found.holds(done["run_id"], done["manifest_seq"]):
                    return None
                sidecar = await _write(conn, names, directory, day, done)
        finally:
            await conn.execute(UNLOCK, EXPORT_LOCK_CLASS, day.toordinal())
    seconds = time.perf_counter() - started
    return Exported(day, sidecar.rows, sidecar.packages, seconds, sidecar)


async def _write(
    conn: asyncpg.Connection, names: Dictionary, directory: Path, day: dt.date, done: asyncpg.Record
) -> Sidecar:
    files = await asyncio.to_thread(DayFiles, directory, day)
    packages = 0
    try:
        cursor = await conn.cursor(DAY_ROWS, *day_row_args(day))
        while rows := await cursor.fetch(CHUNK_PACKAGES):
            cells = await asyncio.to_thread(extract, rows, day)
            await names.load_ids(conn, cells.category_ids())
            table = await asyncio.to_thread(table_of, cells, names.known, day)
            await asyncio.to_thread(files.write, table)
            packages += cells.holding
        return await asyncio.to_thread(
            files.commit, done["run_id"], done["manifest_seq"], done["completed_at"], packages
        )
    except Exception:
        await asyncio.to_thread(files.abort)
        raise


async def owed_days(pool: asyncpg.Pool, directory: Path, within_days: int) -> list[dt.date]:
    """Days completed within ``within_days`` whose files do not hold their completion, newest first."""
    rows = await pool.fetch(RECENTLY_COMPLETED, within_days)
    owed = []
    for r in rows:
        found = await asyncio.to_thread(read_sidecar, directory, r["day"])
        if found is None or not found.holds(r["run_id"], r["manifest_seq"]):
            owed.append(r["day"])
    return owed


async def complete_days(pool: asyncpg.Pool, start: dt.date, end: dt.date) -> list[dt.date]:
    """The complete days of ``start..end``, newest first."""
    return [r["day"] for r in await pool.fetch(COMPLETE_BETWEEN, start, end)]


class Exporter:
    """The aggregator's background exporter: :meth:`wake` after a day completes; it then exports
    every owed day (newest first) in its own task, one day at a time."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        directory: Path,
        within_days: int,
        on_export: Callable[[Exported], None] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.pool, self.directory, self.within_days = pool, directory, within_days
        self.names = Dictionary()
        self.on_export, self.on_failure = on_export, on_failure
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for owed days soon (starts the task on first use)."""
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="aggregator-exports")

    async def close(self) -> None:
        """Stop the task; an export cut short leaves only a temporary file (swept later)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def drain(self) -> list[Exported]:
        """Stop the task and export every owed day now (a command that completed days, such as
        ``replay``, leaves no day owed behind it)."""
        await self.close()
        return await self.export_owed()

    async def _run(self) -> None:
        swept = False
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                if not swept:
                    await asyncio.to_thread(sweep, self.directory)
                    swept = True
                await self.export_owed()
            except Exception as exc:
                log.warning("export failed", error=type(exc).__name__, detail=str(exc)[:300])
                if self.on_failure is not None:
                    self.on_failure()
                await asyncio.sleep(RETRY_S)
                self._wake.set()

    async def export_owed(self) -> list[Exported]:
        """Export every owed day now."""
        done = []
        for day in await owed_days(self.pool, self.directory, self.within_days):
            exported = await export_day(self.pool, self.names, self.directory, day)
            if exported is None:
                continue
            log.info(
                "day exported",
                day=str(day),
                rows=exported.rows,
                packages=exported.packages,
                seconds=round(exported.seconds, 3),
            )
            if self.on_export is not None:
                self.on_export(exported)
            done.append(exported)
        return done
