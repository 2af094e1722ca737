"""The data step of migration 0009: package-days of the month-partitioned ``downloads`` moved
into the history store's open days (``downloads_days``).

Owns the in-place upgrade to the history store. The rows are copied as they are (the packed
package-day is the same row in both layouts), one month partition at a time, in batches of about
:data:`BATCH_ROWS` rows, each batch one short transaction that also records how far the move got
(``schema_upgrades``, version 9). A crash resumes after the last committed batch and never copies a
package-day twice (``ON CONFLICT DO NOTHING``, and the position only moves forward). The old table
is only read, so a reader of the previous release keeps answering during the move; writes to it
were refused by migration 0009, so nothing is written behind the move. Migration 0010 drops it.

Closed months are not compacted here: the aggregator compacts every due month in its first idle
round (shared/db/compaction.py), or ``python -m services.aggregator compact`` does it at once. A
progress bar shows months and package-days moved.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

import asyncpg
from tqdm import tqdm

from shared.db.history import next_month
from shared.logging import get_logger

log = get_logger(__name__)

#: Rows copied per transaction.
BATCH_ROWS: Final = 50_000

STEP_STATE = "SELECT done, position FROM schema_upgrades WHERE version = $1"
STEP_POSITION = """
UPDATE schema_upgrades SET position = $2::jsonb, moved = moved + $3, updated_at = now() WHERE version = $1
"""
OLD_MONTHS = """
SELECT to_date(right(c.relname, 6), 'YYYYMM') AS month
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass('downloads') AND c.relname ~ '^downloads_p[0-9]{6}$'
ORDER BY 1
"""
OLD_COUNT = "SELECT count(*) FROM downloads WHERE day >= $1 AND day < $2"
BATCH_END = """
SELECT package FROM downloads WHERE day >= $1 AND day < $2 AND package > $3
ORDER BY package OFFSET $4 LIMIT 1
"""
COPY_BATCH = """
INSERT INTO downloads_days (seq, with_mirrors, without_mirrors, day, run, package, cells, details, versions)
SELECT seq, with_mirrors, without_mirrors, day, run, package, cells, details, versions FROM downloads
WHERE day >= $1 AND day < $2 AND package > $3 AND ($4::text IS NULL OR package <= $4)
ON CONFLICT (package, day) DO NOTHING
"""


def _position(raw: Any) -> tuple[dt.date | None, str | None]:
    """(month, last package moved of that month); package None means the whole month is moved."""
    if raw is None:
        return None, None
    found = json.loads(raw) if isinstance(raw, str) else raw
    return dt.date.fromisoformat(found["month"]), found["after"]


async def move_to_history_store(conn: asyncpg.Connection, version: int, progress: bool) -> None:
    """Copy every package-day of ``downloads`` into ``downloads_days`` (see module doc)."""
    months = [r["month"] for r in await conn.fetch(OLD_MONTHS)]
    at_month, after = _position((await conn.fetchrow(STEP_STATE, version))["position"])
    total = 0
    for month in months:
        total += int(await conn.fetchval(OLD_COUNT, month, next_month(month)))
    bar = tqdm(total=total, desc="moving package-days", unit="package-day", disable=not progress)
    moved = 0
    try:
        for month in months:
            end_of = next_month(month)
            if at_month is not None and (month < at_month or (month == at_month and after is None)):
                bar.update(int(await conn.fetchval(OLD_COUNT, month, end_of)))
                continue
            start = after if month == at_month and after is not None else ""
            while True:
                end = await conn.fetchval(BATCH_END, month, end_of, start, BATCH_ROWS)
                async with conn.transaction():
                    status = await conn.execute(COPY_BATCH, month, end_of, start, end)
                    copied = int(status.split()[-1])
                    position = json.dumps({"month": month.isoformat(), "after": end})
                    await conn.execute(STEP_POSITION, version, position, copied)
                moved += copied
                bar.update(copied)
                bar.set_postfix(month=month.isoformat()[:7], refresh=False)
                if end is None:
                    break
                start = end
    finally:
        bar.close()
    log.info("package-days moved to the history store", months=len(months), package_days=moved)
