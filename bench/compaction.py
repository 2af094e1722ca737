"""Compaction benchmark: one month of N packages folded from open package-days into month rows.

Seeds a history-store database with N packages x ``--days`` days ending on bench.seed's END
(2026-03-31), every day written open (as the aggregator leaves them before compaction), so the
months whose last day is 30 or more days back are due; then runs the store's own compaction
(shared/db/compaction.py, the code the aggregator runs when idle) and reports, per month, the
seconds, package-days per second and this process's peak RSS, and the bytes on disk per
package-day before (all open) and after (compacted). Baseline in the same run: the time to read
the same open package-days (one ``SELECT`` of the month), so the figure says what compaction adds
on top of reading its input.

    .venv/bin/python -m bench.compaction --packages 10000 [--days 90] [--batch 1000] [--database-url ADMIN_DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from typing import Any

import asyncpg

from bench import seed
from shared.db.compaction import compact_due, months_due
from shared.db.history import next_month
from shared.logging import configure_logging

READ_MONTH = """
SELECT package, day, seq, run, with_mirrors, without_mirrors, cells, details, versions FROM downloads_days
WHERE day >= $1 AND day < $2
"""


async def run(admin_url: str, packages: int, days: int, batch: int) -> dict[str, Any]:
    name = seed.database_name("history", packages)
    url = await seed.create_migrated(admin_url, name, "history")
    try:
        conn = await asyncpg.connect(url)
        try:
            books = await seed.fill(conn, "history", packages, days, progress=True, compacted=False)
        finally:
            await conn.close()
        before = await seed.storage(admin_url, name)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            due = await months_due(pool, seed.END)
            read_s = []
            for month in due:
                started = time.perf_counter()
                await pool.fetch(READ_MONTH, month, next_month(month))
                read_s.append(time.perf_counter() - started)
            done = await compact_due(pool, seed.END, batch=batch)
        finally:
            await pool.close()
        after = await seed.storage(admin_url, name)
    finally:
        await seed.drop_database(admin_url, name)
    return {
        "packages": packages,
        "days": days,
        "package_days": books.package_days,
        "batch": batch,
        "months": [
            {
                "month": c.month.isoformat()[:7],
                "package_days": c.package_days,
                "seconds": round(c.seconds, 2),
                "package_days_per_s": round(c.package_days / c.seconds),
                "read_baseline_seconds": round(r, 2),
                "ratio_to_read": round(c.seconds / r, 1),
            }
            for c, r in zip(done, read_s, strict=True)
        ],
        "bytes_per_package_day_open": round(before.bytes_per_package_day, 1),
        "bytes_per_package_day_after": round(after.bytes_per_package_day, 1),
        "block_bytes_per_package_day": after.column_bytes,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compaction", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--packages", type=int, required=True)
    parser.add_argument(
        "--days", type=int, default=90, help="days ending 2026-03-31 (90: January and February due)"
    )
    parser.add_argument("--batch", type=int, default=1000, help="packages per compaction transaction")
    parser.add_argument("--database-url", default=seed.ADMIN_URL, help="an admin DSN of the server to use")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    print(
        json.dumps(asyncio.run(run(args.database_url, args.packages, args.days, args.batch)), indent=2),
        flush=True,
    )


if __name__ == "__main__":
    main()
