"""Completion of a day on its manifest: the one transaction that makes a day visible.

Owns the decision "is this run's day complete?" and what follows in a single transaction holding
the day's exclusive advisory lock (package-day writers of that day hold it shared, so nothing
of the day is written meanwhile):

1. a manifest older than the one that completed the day, or overtaken by package-days of a newer
   run, is *superseded* (acked, nothing done);
2. fewer committed package-days of the run than the manifest announces: *incomplete*, the
   consumer redelivers it later (never blocking other messages);
3. otherwise: package-days of the day held by other runs (which this run did not publish) are
   removed, and where the day's month is compacted already, tombstones replace those packages'
   day (complete.TOMBSTONES), so a corrected re-run converges, two years back as well; ``__all__`` is recomputed; ``ingest_days`` records the
   run and the manifest's stream sequence (the run order used by store.py); the package index,
   the day's trend rows and, when affected, the recent totals and the discovery lists
   (services/aggregator/discovery.py) are updated.

Deferred recent totals (``defer_recent``): during a burst of manifests (a backfill, a replay) each
completion would rebuild ``recent_downloads`` over every package only for the next manifest to
rebuild it again. The consumer passes ``defer_recent=True`` while more messages are waiting; the
completion then only marks ``recent_state.stale`` *in the same transaction* that records the day,
and :func:`flush_recent` rebuilds once, anchored on the last complete day at that moment. Why this
keeps the guarantees: the rebuild is a pure function of the committed package-days and the last
complete day (never of which manifests triggered it), so one rebuild after N completions equals
the last of N rebuilds; the stale mark commits atomically with the day, so a crash between the
completion and the flush leaves the mark, and any aggregator flushes it when it starts or goes
idle; rebuilds take one advisory lock, so concurrent replicas serialise instead of colliding. The
discovery lists are deferred and rebuilt with them, for the same reasons. The
cost is that recent totals lag the last complete day for the length of a burst (bounded by the
consumer's ``RECENT_MAX_DELAY``); readers never see a half-built table.

Re-processing a completed manifest redoes the same work and ends in the same state (idempotent).
Retention, statistics, the cache bump and ``rollups.updated`` follow after the commit (app code).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import asyncpg

from services.aggregator import discovery, recent
from services.aggregator.store import day_lock_key
from shared.db.compaction import DAY_LOCK_CLASS
from shared.db.partitions import retention_cutoff
from shared.events import DayManifest
from shared.packages import ALL_PACKAGES

DAY_LOCK = "SELECT pg_advisory_xact_lock($1::int, $2::int)"
COMPLETED = "SELECT run_id, manifest_seq FROM ingest_days WHERE day = $1"
LAST_COMPLETE_DAY = "SELECT max(day) FROM ingest_days"
RUN_PACKAGES = "SELECT count(*) FROM downloads_days WHERE day = $1 AND run = (SELECT id FROM ingest_runs WHERE run_id = $2)"
NEWER_RUN = """
SELECT EXISTS (
    SELECT 1 FROM downloads_days
    WHERE day = $1 AND run IS DISTINCT FROM (SELECT id FROM ingest_runs WHERE run_id = $2) AND seq > $3)
"""
#: Package-days of the day that this run did not publish: removed whole (one row each).
DROP_OTHER_RUNS = """
DELETE FROM downloads_days
WHERE day = $1 AND run IS DISTINCT FROM (SELECT id FROM ingest_runs WHERE run_id = $2)
RETURNING package
"""
#: Packages that a compacted month holds on the day and this run did not publish: an empty
#: package-day (a tombstone, with the manifest's sequence) replaces their day whole, as removing
#: their row did before the month was compacted; compaction folds it in (the day disappears).
TOMBSTONES = """
INSERT INTO downloads_days (seq, with_mirrors, without_mirrors, day, run, package, cells)
SELECT $3, 0, 0, $1, (SELECT id FROM ingest_runs WHERE run_id = $2), m.package, '{}'
FROM downloads_months m
WHERE m.month = date_trunc('month', $1::date)::date AND m.package <> $4
  AND m.days & (1 << (extract(day FROM $1::date)::int - 1)) <> 0
  AND NOT EXISTS (SELECT 1 FROM downloads_days d WHERE d.package = m.package AND d.day = $1)
RETURNING package
"""
#: ``__all__``'s tombstone: the day of a compacted month when the run has no package-day at all.
ALL_TOMBSTONE = """
INSERT INTO downloads_all (day, run, with_mirrors, without_mirrors, cells)
SELECT $1, (SELECT id FROM ingest_runs WHERE run_id = $2), 0, 0, '{}'
WHERE NOT EXISTS (SELECT 1 FROM downloads_all WHERE day = $1)
  AND EXISTS (
      SELECT 1 FROM downloads_months m
      WHERE m.package = $3 AND m.month = date_trunc('month', $1::date)::date
        AND m.days & (1 << (extract(day FROM $1::date)::int - 1)) <> 0)
"""
RECORD_DAY = """
INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors, manifest_seq)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (day) DO UPDATE
SET run_id = EXCLUDED.run_id, source = EXCLUDED.source, packages = EXCLUDED.packages,
    rows = EXCLUDED.rows, downloads_with_mirrors = EXCLUDED.downloads_with_mirrors,
    manifest_seq = EXCLUDED.manifest_seq, completed_at = now()
"""


class Outcome(enum.Enum):
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Completion:
    outcome: Outcome
    anchor: dt.date | None = None
    committed: int = 0
    removed: int = 0
    recent_deferred: bool = False


async def complete_day(
    pool: asyncpg.Pool,
    manifest: DayManifest,
    seq: int,
    retention_days: int | None,
    *,
    defer_recent: bool = False,
) -> Completion:
    """Complete ``manifest``'s day if every package-day of its run is committed (see module doc)."""
    day, run_id = manifest.day, manifest.run_id
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(DAY_LOCK, DAY_LOCK_CLASS, day_lock_key(day))
        old_anchor: dt.date | None = await conn.fetchval(LAST_COMPLETE_DAY)
        if old_anchor is not None and day < retention_cutoff(old_anchor, retention_days):
            return Completion(Outcome.EXPIRED, old_anchor)
        done = await conn.fetchrow(COMPLETED, day)
        if done is not None and done["manifest_seq"] > seq:
            return Completion(Outcome.SUPERSEDED, old_anchor)
        if done is not None and done["manifest_seq"] == seq and done["run_id"] == run_id:
            # This very manifest completed the day already (a redelivery after a crash before its
            # ack); compaction may have moved its package-days since, so they are not recounted.
            # The steps after the commit (retention, cache, event) are redone by the caller.
            return Completion(Outcome.COMPLETED, old_anchor, manifest.packages)
        if await conn.fetchval(NEWER_RUN, day, run_id, seq):
            return Completion(Outcome.SUPERSEDED, old_anchor)
        committed = int(await conn.fetchval(RUN_PACKAGES, day, run_id))
        if committed < manifest.packages:
            return Completion(Outcome.INCOMPLETE, old_anchor, committed)
        removed = [r["package"] for r in await conn.fetch(DROP_OTHER_RUNS, day, run_id)]
        removed += [r["package"] for r in await conn.fetch(TOMBSTONES, day, run_id, seq, ALL_PACKAGES)]
        await recent.compute_all(conn, day, run_id)
        await conn.execute(ALL_TOMBSTONE, day, run_id, ALL_PACKAGES)
        await conn.execute(
            RECORD_DAY,
            day,
            run_id,
            manifest.source,
            manifest.packages,
            manifest.rows,
            manifest.downloads_with_mirrors,
            seq,
        )
        await recent.index_day(conn, day, removed)
        await discovery.record_day(conn, day)
        anchor = max(day, old_anchor) if old_anchor is not None else day
        deferred = False
        recent_due = recent.recent_affected(day, old_anchor, anchor)
        if recent_due or discovery.affected(day, anchor):
            if defer_recent:
                await recent.mark_stale(conn)
                deferred = True
            else:
                if recent_due:
                    await recent.recompute_recent(conn)
                await discovery.rebuild(conn, recent.RECENT_LOCK_CLASS)
        return Completion(Outcome.COMPLETED, anchor, committed, len(removed), deferred)


async def flush_recent(pool: asyncpg.Pool) -> dt.date | None:
    """Rebuild ``recent_downloads`` if a completion deferred it; returns the anchor rebuilt on.

    The stale mark is read and cleared under the rebuild lock, in the rebuild's transaction, so of
    two replicas flushing at once one rebuilds and the other finds nothing owed.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(recent.RECENT_LOCK, recent.RECENT_LOCK_CLASS)
        if not await recent.is_stale(conn):
            return None
        anchor = await recent.recompute_recent(conn)
        await discovery.rebuild(conn, recent.RECENT_LOCK_CLASS)
        return anchor
