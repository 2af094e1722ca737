"""Compaction: closed months of open package-days folded into one row per package and month.

Owns moving package-days from ``downloads_days`` (and ``__all__``'s from ``downloads_all``) into
``downloads_months`` (shared/db/history.py encodes the rows). A month is *due* once its last day
is :data:`COMPACT_AFTER_DAYS` or more before the last complete day: the recent totals (the last 30
days) and the scheduler's re-ingests of the last few days then always find their days open.

A month is compacted in batches of packages, each batch one transaction that

1. takes the shared advisory lock of every day of the month (package-day writers take it shared
   too; a day's completion takes it alone, so no completion, with its removal of other runs'
   package-days and its tombstones, runs beside a batch);
2. reads the open package-days of the batch's packages in that month and keeps those written by
   the run that completed their day (``ingest_days``): package-days of a run still in flight stay
   open, so the run's completion still finds them all;
3. merges them into the stored month rows (an open package-day replaces its day whole; an empty
   one, a tombstone, removes it), upserts the rows (deleting those left without a day), and
4. deletes exactly the package-days it folded in (matched on their stream sequence, so a newer
   package-day written meanwhile stays).

Why a crash at any point loses and double-counts nothing: each batch commits or not as a whole,
and readers merge open days over compacted ones (the open row wins, holding the same numbers),
so a package-day is counted once whether a batch committed or not. Running it again finds only
what is still open (idempotent).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import asyncpg

from shared.db.history import MonthRow, fold, next_month
from shared.db.partitions import ensure_partitions
from shared.logging import get_logger
from shared.packages import ALL_PACKAGES

log = get_logger(__name__)

#: A month is compacted once its last day is this many days before the last complete day.
COMPACT_AFTER_DAYS: Final = 30
#: Packages per compaction transaction.
BATCH_PACKAGES: Final = 1000
#: pg_advisory_xact_lock(class, day) of the day locks (services/aggregator/store.py shares it).
DAY_LOCK_CLASS: Final = 4_240_404

#: Distinct open days up to $1, by a loose scan of the (day, run) index (a few probes per day).
OPEN_DAYS = """
WITH RECURSIVE d AS (
    (SELECT day FROM downloads_days WHERE day <= $1 ORDER BY day LIMIT 1)
    UNION ALL
    SELECT (SELECT x.day FROM downloads_days x WHERE x.day > d.day AND x.day <= $1 ORDER BY x.day LIMIT 1)
    FROM d WHERE d.day IS NOT NULL
)
SELECT day FROM d WHERE day IS NOT NULL
UNION
SELECT day FROM downloads_all WHERE day <= $1
"""
COMPLETE_DAYS = "SELECT day FROM ingest_days WHERE day >= $1 AND day < $2"
#: The shared lock of every day of the month; the key is the day's proleptic ordinal (date.toordinal()).
LOCK_MONTH = """
SELECT count(pg_advisory_xact_lock_shared($1::int, (d::date - date '0001-01-01' + 1)::int))
FROM generate_series($2::date, $3::date - 1, interval '1 day') AS d
"""
COMPLETED_RUNS = """
SELECT i.day, r.id FROM ingest_days i JOIN ingest_runs r ON r.run_id = i.run_id
WHERE i.day >= $1 AND i.day < $2
"""
NEXT_PACKAGES = """
SELECT package FROM downloads_days
WHERE day >= $1 AND day < $2 AND package > $3
GROUP BY package ORDER BY package LIMIT $4
"""
OPEN_ROWS = """
SELECT package, day, seq, run, with_mirrors, without_mirrors, people, cells, details, versions FROM downloads_days
WHERE package = ANY($1::text[]) AND day >= $2 AND day < $3
ORDER BY package, day
"""
ALL_OPEN_ROWS = """
SELECT $1::text AS package, day, 0::bigint AS seq, run, with_mirrors, without_mirrors, people, cells, details,
       '{}'::bigint[] AS versions
FROM downloads_all WHERE day >= $2 AND day < $3
ORDER BY day
"""
STORED = """
SELECT package, days, overall, cells, details, versions FROM downloads_months
WHERE package = ANY($1::text[]) AND month = $2
"""
UPSERT_MONTHS = """
INSERT INTO downloads_months (month, with_mirrors, without_mirrors, days, package, overall, cells, details, versions)
SELECT $1::date, * FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::text[], $6::bytea[], $7::bytea[],
                               $8::bytea[], $9::bytea[])
ON CONFLICT (package, month) DO UPDATE
SET with_mirrors = EXCLUDED.with_mirrors, without_mirrors = EXCLUDED.without_mirrors, days = EXCLUDED.days,
    overall = EXCLUDED.overall, cells = EXCLUDED.cells, details = EXCLUDED.details, versions = EXCLUDED.versions
"""
DELETE_MONTHS = "DELETE FROM downloads_months WHERE package = ANY($1::text[]) AND month = $2"
DELETE_FOLDED = """
DELETE FROM downloads_days d
USING unnest($1::text[], $2::date[], $3::bigint[]) AS f (package, day, seq)
WHERE d.package = f.package AND d.day = f.day AND d.seq = f.seq
"""
DELETE_ALL_FOLDED = """
DELETE FROM downloads_all a USING unnest($1::date[], $2::int[]) AS f (day, run)
WHERE a.day = f.day AND a.run = f.run
"""
#: After a compaction: the open tables lost rows (statistics, free space), and the month rows just
#: written must be all-visible for the index-only overall reads (migration 0012); the visibility
#: map lets VACUUM skip every month page nothing changed.
VACUUM_OPEN = "VACUUM (ANALYZE) downloads_days, downloads_all"
VACUUM_MONTHS = "VACUUM downloads_months"


@dataclass(frozen=True)
class Compacted:
    """What compacting one month did."""

    month: dt.date
    packages: int
    package_days: int
    seconds: float


def due_months(
    open_days: Sequence[dt.date], anchor: dt.date, complete: Sequence[dt.date] | None = None
) -> list[dt.date]:
    """Months of ``open_days`` whose last day is at least COMPACT_AFTER_DAYS before ``anchor``,
    oldest first; with ``complete`` (the complete days), only months whose every day is complete
    (what a backfill running newest first has finished)."""
    limit = anchor - dt.timedelta(days=COMPACT_AFTER_DAYS)
    months = sorted({d.replace(day=1) for d in open_days})
    due = [m for m in months if next_month(m) - dt.timedelta(days=1) <= limit]
    if complete is not None:
        done = set(complete)
        due = [m for m in due if all(d in done for d in _days_of(m))]
    return due


def _days_of(month: dt.date) -> list[dt.date]:
    end = next_month(month)
    return [month + dt.timedelta(days=i) for i in range((end - month).days)]


async def months_due(
    conn: asyncpg.Connection | asyncpg.Pool, anchor: dt.date, *, full_only: bool = False
) -> list[dt.date]:
    """The months to compact now (see :func:`due_months`)."""
    limit = anchor - dt.timedelta(days=COMPACT_AFTER_DAYS)
    found = [r["day"] for r in await conn.fetch(OPEN_DAYS, limit)]
    if not found:
        return []
    complete = None
    if full_only:
        complete = [
            r["day"]
            for r in await conn.fetch(COMPLETE_DAYS, min(found).replace(day=1), limit + dt.timedelta(days=1))
        ]
    return due_months(found, anchor, complete)


def _fold(
    month: dt.date, package: str, stored: asyncpg.Record | None, rows: Sequence[asyncpg.Record]
) -> MonthRow | None:
    blocks = None
    if stored is not None:
        blocks = (stored["days"], (stored["overall"], stored["cells"], stored["details"], stored["versions"]))
    days = (
        (
            r["day"],
            r["with_mirrors"],
            r["without_mirrors"],
            (r["cells"], r["details"], r["versions"]),
            r["people"],
        )
        for r in rows
    )
    return fold(month, package, blocks, days)


async def _write(conn: asyncpg.Connection, month: dt.date, built: list[tuple[str, MonthRow | None]]) -> None:
    rows = [row for _, row in built if row is not None]
    gone = [package for package, row in built if row is None]
    if rows:
        await conn.execute(
            UPSERT_MONTHS,
            month,
            [r.with_mirrors for r in rows],
            [r.without_mirrors for r in rows],
            [r.days for r in rows],
            [r.package for r in rows],
            *([r.blocks[g] for r in rows] for g in range(4)),
        )
    if gone:
        await conn.execute(DELETE_MONTHS, gone, month)


async def _lock(conn: asyncpg.Connection, month: dt.date) -> dict[dt.date, int]:
    """Take the month's day locks; the run that completed each complete day."""
    end = next_month(month)
    await conn.execute(LOCK_MONTH, DAY_LOCK_CLASS, month, end)
    return {r["day"]: r["id"] for r in await conn.fetch(COMPLETED_RUNS, month, end)}


async def compact_month(pool: asyncpg.Pool, month: dt.date, *, batch: int = BATCH_PACKAGES) -> Compacted:
    """Fold every open package-day of ``month`` written by its day's completed run (module doc)."""
    started = time.perf_counter()
    end = next_month(month)
    await ensure_partitions(pool, month, month)
    packages = folded = 0
    after = ""
    async with pool.acquire() as conn:
        while True:
            async with conn.transaction():
                runs = await _lock(conn, month)
                names = [r["package"] for r in await conn.fetch(NEXT_PACKAGES, month, end, after, batch)]
                if not names:
                    break
                after = names[-1]
                rows = [
                    r
                    for r in await conn.fetch(OPEN_ROWS, names, month, end)
                    if runs.get(r["day"]) == r["run"]
                ]
                if rows:
                    stored = {r["package"]: r for r in await conn.fetch(STORED, names, month)}
                    by_package: dict[str, list[asyncpg.Record]] = {}
                    for r in rows:
                        by_package.setdefault(r["package"], []).append(r)
                    built = [(p, _fold(month, p, stored.get(p), found)) for p, found in by_package.items()]
                    await _write(conn, month, built)
                    await conn.execute(
                        DELETE_FOLDED,
                        [r["package"] for r in rows],
                        [r["day"] for r in rows],
                        [r["seq"] for r in rows],
                    )
                    packages += len(by_package)
                    folded += len(rows)
        async with conn.transaction():
            runs = await _lock(conn, month)
            rows = [
                r
                for r in await conn.fetch(ALL_OPEN_ROWS, ALL_PACKAGES, month, end)
                if runs.get(r["day"]) == r["run"]
            ]
            if rows:
                stored_all = await conn.fetchrow(STORED, [ALL_PACKAGES], month)
                await _write(conn, month, [(ALL_PACKAGES, _fold(month, ALL_PACKAGES, stored_all, rows))])
                await conn.execute(DELETE_ALL_FOLDED, [r["day"] for r in rows], [r["run"] for r in rows])
    done = Compacted(month, packages, folded, time.perf_counter() - started)
    log.info(
        "month compacted",
        month=month.isoformat(),
        packages=packages,
        package_days=folded,
        seconds=round(done.seconds, 2),
    )
    return done


async def compact_due(
    pool: asyncpg.Pool,
    anchor: dt.date,
    *,
    full_only: bool = False,
    batch: int = BATCH_PACKAGES,
    progress: Callable[[Compacted], None] | None = None,
) -> list[Compacted]:
    """Compact every due month (oldest first), then vacuum the open tables and the months if anything moved."""
    done = []
    for month in await months_due(pool, anchor, full_only=full_only):
        done.append(await compact_month(pool, month, batch=batch))
        if progress is not None:
            progress(done[-1])
    if any(c.package_days for c in done):
        await pool.execute(VACUUM_OPEN)
        await pool.execute(VACUUM_MONTHS)
    return done
