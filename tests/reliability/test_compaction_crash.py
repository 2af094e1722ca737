"""SIGKILL in the middle of a compaction, then again: readers see exactly the numbers written.

``python -m services.aggregator compact`` (the same code the aggregator runs when idle) is killed
once some of its batches have committed and the rest have not; a second run finishes the month.
At every point, what readers see (open days and compacted months merged) equals the seeded rows.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from shared import series
from shared.db.layout import Dictionary
from tests.support.seed import Row, package_rows, seed, with_all
from tests.support.wait import wait_until

LAST = dt.date(2024, 3, 2)  # January's last day is 31 days back: January is due, February is not
DAYS = 62
PACKAGES = 240
pytestmark = pytest.mark.slow


async def visible(db: asyncpg.Pool, packages: list[str]) -> set[Row]:
    names = Dictionary()
    out: set[Row] = set()
    async with db.acquire() as conn:
        for package in packages:
            found = await series.series_window(conn, names, package, None, None)
            out |= {
                (p.day, package, d, p.category, p.downloads) for d, points in found.items() for p in points
            }
    return out


def compact(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.aggregator", "compact", "--no-progress"],
        env={**env, "COMPACT_BATCH_PACKAGES": "20"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def test_sigkill_mid_compaction_then_again_is_exact(
    db: asyncpg.Pool, service_env: dict[str, str], tmp_path: Path
) -> None:
    packages = [f"pkg-{i:04d}" for i in range(PACKAGES)]
    rows = with_all(r for i, p in enumerate(packages) for r in package_rows(p, 10 + i, LAST, DAYS))
    await seed(db, rows, compact=False)
    sample = packages[::29] + ["__all__"]
    want = {r for r in rows if r[1] in sample}
    assert await visible(db, sample) == want

    async def some_batches_committed() -> bool:
        return int(await db.fetchval("SELECT count(*) FROM downloads_months")) >= 40

    first = compact(service_env, tmp_path / "compact.log")
    try:
        await wait_until(some_batches_committed, timeout=60, what="some compaction batches")
    finally:
        first.kill()
        first.wait(10)
    open_january = int(await db.fetchval("SELECT count(*) FROM downloads_days WHERE day < '2024-02-01'"))
    assert open_january > 0, "the compaction finished before the kill: make it bigger"
    assert await visible(db, sample) == want  # half folded: the same numbers

    second = compact(service_env, tmp_path / "compact.log")
    assert second.wait(120) == 0, (tmp_path / "compact.log").read_text()[-2000:]
    assert await db.fetchval("SELECT count(*) FROM downloads_days WHERE day < '2024-02-01'") == 0
    assert await db.fetchval("SELECT count(*) FROM downloads_months") == PACKAGES + 1
    assert await visible(db, sample) == want
