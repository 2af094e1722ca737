"""Writes of package-days: one transaction per fetched batch, idempotent by replacement.

Owns the hot path. A batch of package-days is COPYed into a per-connection staging table, the
stale ones are dropped there, and in the same transaction the surviving package-days *replace*
what the database holds for them (delete their rows, COPY the new rows, upsert ``package_days``
with the run id and stream sequence). The consumer acks only after this commits, so a crash at
any point leaves either the old or the new package-day, never a mix or a double count.

Run order (why a stale message never wins): every write records the JetStream *stream sequence*
of the message. The server assigns sequences in publish order; redelivery and replay keep them.
A package-day is stale, and skipped, when

* the database already holds that package-day from a message with a higher sequence (a newer
  run, or a later publish of the same run), or
* the day was completed by a manifest of *another* run whose sequence is higher (the package-day
  belongs to a run published before the run that completed the day, possibly one the completed
  run no longer contains).

Package-days of days that retention no longer keeps are skipped as well. ``__all__`` is never a
package-day: it is computed when a day completes (see ``complete.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Final

import asyncpg

from shared.db.partitions import ensure_partitions, retention_cutoff
from shared.events import PackageDay

#: pg_advisory_xact_lock(class, day): writers of a day share it, the day's completion takes it alone.
DAY_LOCK_CLASS: Final = 4_240_404

CREATE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS aggregator_stage (
    day date NOT NULL, package text NOT NULL, run_id text NOT NULL, seq bigint NOT NULL, rows integer NOT NULL,
    without_mirrors bigint
) ON COMMIT DELETE ROWS
"""
STAGE_COLUMNS: Final = ("day", "package", "run_id", "seq", "rows", "without_mirrors")
ROW_COLUMNS: Final = ("day", "package", "dimension", "category", "downloads")
SHARED_DAY_LOCK = "SELECT pg_advisory_xact_lock_shared($1::int, $2::int)"
LAST_COMPLETE_DAY = "SELECT max(day) FROM ingest_days"
DROP_STALE = """
DELETE FROM aggregator_stage s
WHERE EXISTS (
        SELECT 1 FROM package_days p
        WHERE p.day = s.day AND p.package = s.package AND p.seq > s.seq)
   OR EXISTS (
        SELECT 1 FROM ingest_days i
        WHERE i.day = s.day AND i.run_id <> s.run_id AND i.manifest_seq > s.seq)
RETURNING day, package
"""
DELETE_ROWS = "DELETE FROM daily_downloads WHERE day = $1 AND package = ANY($2::text[])"
#: Upserts the surviving package-days and returns those the database held before (every CTE sees
#: the snapshot from before the upsert): only their old rows need deleting, so a first ingest
#: deletes nothing.
UPSERT_PACKAGE_DAYS = """
WITH prior AS (
    SELECT p.day, p.package FROM package_days p
    JOIN aggregator_stage s ON s.day = p.day AND s.package = p.package
), upsert AS (
    INSERT INTO package_days (day, package, run_id, rows, seq, without_mirrors)
    SELECT day, package, run_id, rows, seq, without_mirrors FROM aggregator_stage
    ON CONFLICT (day, package) DO UPDATE
    SET run_id = EXCLUDED.run_id, rows = EXCLUDED.rows, seq = EXCLUDED.seq,
        without_mirrors = EXCLUDED.without_mirrors, applied_at = now()
)
SELECT day, package FROM prior
"""


def without_mirrors(event: PackageDay) -> int | None:
    """The package-day's overall/without_mirrors count; None when it has no overall row at all."""
    overall = event.counts.overall
    if not any(n > 0 for n in overall.values()):
        return None
    return overall.get("without_mirrors", 0)


def day_lock_key(day: dt.date) -> int:
    """The second advisory-lock key of a day (fits in int4 for every real date)."""
    return day.toordinal()


@dataclass(frozen=True)
class Written:
    """What one batch did: package-days applied, skipped as stale or expired, rows written."""

    applied: int
    stale: int
    expired: int
    rows: int


def latest_by_key(items: list[tuple[PackageDay, int]]) -> dict[tuple[dt.date, str], tuple[PackageDay, int]]:
    """Keep, per (day, package), the message with the highest stream sequence."""
    best: dict[tuple[dt.date, str], tuple[PackageDay, int]] = {}
    for event, seq in items:
        key = (event.day, event.package)
        current = best.get(key)
        if current is None or seq > current[1]:
            best[key] = (event, seq)
    return best


class Store:
    """Applies batches of package-days; remembers which day partitions it has ensured."""

    def __init__(self, pool: asyncpg.Pool, retention_days: int) -> None:
        self.pool = pool
        self.retention_days = retention_days
        self._partitions: set[dt.date] = set()
        self._partition_lock = asyncio.Lock()

    async def ensure_day(self, day: dt.date) -> None:
        """Create the day's partitions once per process (outside the batch transaction).

        Concurrent writers of this process wait on one lock; another process creating the same
        partition at the same moment makes CREATE fail with a duplicate, which means it exists.
        """
        if day in self._partitions:
            return
        async with self._partition_lock:
            if day in self._partitions:
                return
            try:
                await ensure_partitions(self.pool, day, day)
            except (asyncpg.DuplicateTableError, asyncpg.UniqueViolationError):
                await ensure_partitions(self.pool, day, day)
            self._partitions.add(day)

    def forget_partitions(self) -> None:
        """Called after an error or retention: partitions may have been dropped meanwhile."""
        self._partitions.clear()

    async def apply(self, items: list[tuple[PackageDay, int]]) -> Written:
        """Replace the package-days of ``items`` ((event, stream sequence) pairs) in one transaction."""
        if not items:
            return Written(0, 0, 0, 0)
        best = latest_by_key(items)
        async with self.pool.acquire() as conn:
            anchor: dt.date | None = await conn.fetchval(LAST_COMPLETE_DAY)
            cutoff = retention_cutoff(anchor, self.retention_days) if anchor else None
            live = {k: v for k, v in best.items() if cutoff is None or k[0] >= cutoff}
            expired = len(best) - len(live)
            days = sorted({day for day, _ in live})
            for day in days:
                await self.ensure_day(day)
            rows_of = {key: event.counts.rows() for key, (event, _) in live.items()}
            async with conn.transaction():
                await conn.execute(CREATE_STAGE)
                for day in days:
                    await conn.execute(SHARED_DAY_LOCK, DAY_LOCK_CLASS, day_lock_key(day))
                await conn.copy_records_to_table(
                    "aggregator_stage",
                    records=[
                        (k[0], k[1], e.run_id, seq, len(rows_of[k]), without_mirrors(e))
                        for k, (e, seq) in live.items()
                    ],
                    columns=STAGE_COLUMNS,
                )
                stale = {(r["day"], r["package"]) for r in await conn.fetch(DROP_STALE)}
                apply = [k for k in live if k not in stale]
                by_day: dict[dt.date, list[str]] = {}
                for r in await conn.fetch(UPSERT_PACKAGE_DAYS) if apply else ():
                    by_day.setdefault(r["day"], []).append(r["package"])
                for day, packages in sorted(by_day.items()):
                    await conn.execute(DELETE_ROWS, day, packages)
                rows = [(k[0], k[1], d, c, n) for k in apply for d, c, n in rows_of[k]]
                if rows:
                    await conn.copy_records_to_table("daily_downloads", records=rows, columns=ROW_COLUMNS)
        return Written(
            applied=len(apply), stale=len(items) - len(apply) - expired, expired=expired, rows=len(rows)
        )
