"""Writes of package-days: one transaction per fetched batch, idempotent by replacement.

Owns the hot path. A package-day is one row of ``downloads_days``, the open days (shared/db/layout.py:
overall counts as columns, every other count packed in the ``cells``, ``details`` and ``versions``
arrays, with the run and stream sequence), whatever its day: a late re-ingest of a day whose month
is compacted already (``downloads_months``) is written here too and replaces that day of the
month for readers until compaction folds it in (shared/db/compaction.py). A
batch is packed in Python, COPYed into a per-connection staging table, the stale package-days are
dropped there, and in the same transaction the survivors are upserted: each *replaces* the
stored row of its (package, day) as a whole, so a category that vanished on re-ingest leaves no
trace. The consumer acks only after this commits, so a crash at any point leaves either the old
or the new package-day, never a mix or a double count. New category and run ids are created
before the transaction, in statements of their own: an id that exists unused is harmless, and
a rolled-back batch never leaves this process believing in an id the database lacks.

Run order (why a stale message never wins): every write records the JetStream *stream sequence*
of the message. The server assigns sequences in publish order; redelivery and replay keep them.
A package-day is stale, and skipped, when

* the open days hold that package-day from a message with a higher sequence (a newer run, or a
  later publish of the same run), or
* the day was completed by a manifest of *another* run whose sequence is higher (the package-day
  belongs to a run published before the run that completed the day, possibly one the completed
  run no longer contains). This is also what guards compacted days, which keep no sequence:
  compaction folds in only package-days of the run that completed their day.

Package-days of days that retention no longer keeps are skipped as well. ``__all__`` is never a
package-day: it is computed when a day completes (see ``complete.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import asyncpg

from shared.db.compaction import DAY_LOCK_CLASS
from shared.db.layout import Dictionary, Runs, dimension_keys, encode_dimensions
from shared.db.partitions import retention_cutoff
from shared.events import PackageDay

# pg_advisory_xact_lock(DAY_LOCK_CLASS, day): writers of a day and compaction share it, the
# day's completion takes it alone.

CREATE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS aggregator_stage (
    seq bigint NOT NULL, with_mirrors bigint NOT NULL, without_mirrors bigint NOT NULL,
    day date NOT NULL, run integer NOT NULL, run_id text NOT NULL, package text NOT NULL, cells bigint[] NOT NULL,
    details bigint[] NOT NULL, versions bigint[] NOT NULL, people bigint NOT NULL
) ON COMMIT DELETE ROWS
"""
STAGE_COLUMNS: Final = (
    "seq",
    "with_mirrors",
    "without_mirrors",
    "day",
    "run",
    "run_id",
    "package",
    "cells",
    "details",
    "versions",
    "people",
)
SHARED_DAY_LOCK = "SELECT pg_advisory_xact_lock_shared($1::int, $2::int)"
LAST_COMPLETE_DAY = "SELECT max(day) FROM ingest_days"
DROP_STALE = """
DELETE FROM aggregator_stage s
WHERE EXISTS (
        SELECT 1 FROM downloads_days d
        WHERE d.package = s.package AND d.day = s.day AND d.seq > s.seq)
   OR EXISTS (
        SELECT 1 FROM ingest_days i
        WHERE i.day = s.day AND i.run_id <> s.run_id AND i.manifest_seq > s.seq)
RETURNING day, package
"""
#: Replaces each surviving package-day as a whole (one row: every dimension, run and sequence).
UPSERT = """
INSERT INTO downloads_days (seq, with_mirrors, without_mirrors, day, run, package, cells, details, versions, people)
SELECT seq, with_mirrors, without_mirrors, day, run, package, cells, details, versions, people FROM aggregator_stage
ON CONFLICT (package, day) DO UPDATE
SET seq = EXCLUDED.seq, with_mirrors = EXCLUDED.with_mirrors, without_mirrors = EXCLUDED.without_mirrors,
    run = EXCLUDED.run, cells = EXCLUDED.cells, details = EXCLUDED.details, versions = EXCLUDED.versions,
    people = EXCLUDED.people
"""


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
    """Applies batches of package-days; remembers the category and run ids it has ensured."""

    def __init__(self, pool: asyncpg.Pool, retention_days: int | None) -> None:
        self.pool = pool
        self.retention_days = retention_days
        self.categories = Dictionary()
        self.runs = Runs()

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
            of = {key: event.counts.dimensions() for key, (event, _) in live.items()}
            ids = await self.categories.ids(conn, {k for found in of.values() for k in dimension_keys(found)})
            runs = {e.run_id: await self.runs.id(conn, e.run_id) for e, _ in live.values()}
            packed = {key: encode_dimensions(found, ids) for key, found in of.items()}
            async with conn.transaction():
                await conn.execute(CREATE_STAGE)
                for day in days:
                    await conn.execute(SHARED_DAY_LOCK, DAY_LOCK_CLASS, day_lock_key(day))
                await conn.copy_records_to_table(
                    "aggregator_stage",
                    records=[
                        (
                            seq,
                            p.with_mirrors,
                            p.without_mirrors,
                            k[0],
                            runs[e.run_id],
                            e.run_id,
                            k[1],
                            p.cells,
                            p.details,
                            p.versions,
                            p.people,
                        )
                        for k, (e, seq) in live.items()
                        for p in (packed[k],)
                    ],
                    columns=STAGE_COLUMNS,
                )
                stale = {(r["day"], r["package"]) for r in await conn.fetch(DROP_STALE)}
                apply = [k for k in live if k not in stale]
                if apply:
                    await conn.execute(UPSERT)
        return Written(
            applied=len(apply),
            stale=len(items) - len(apply) - expired,
            expired=expired,
            rows=sum(packed[k].rows for k in apply),
        )
