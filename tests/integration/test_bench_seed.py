"""bench.seed's generator, run small (20 packages x 3 days) into a real database of each layout.

Keeps the benchmark code from rotting: the rows it writes must have the shape the readers and the
aggregator's rows have. Both layouts are read through ``daily_downloads`` (the table up to migration
0005, the view over the packed rows after 0007), so one set of checks covers both.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import numpy as np
import pytest

from bench import seed, shape
from tests.support.servers import Servers

PACKAGES, DAYS = 20, 3

OVERALL = """
SELECT day, package,
       sum(downloads) FILTER (WHERE category = 'with_mirrors') AS w,
       coalesce(sum(downloads) FILTER (WHERE category = 'without_mirrors'), 0) AS wo
FROM daily_downloads WHERE dimension = 'overall' AND package <> '__all__'
GROUP BY day, package
"""
NOT_POSITIVE = "SELECT count(*) FROM daily_downloads WHERE downloads <= 0"
BREAKDOWN_NOT_WITHOUT = """
SELECT count(*) FROM (
    SELECT day, package, dimension, sum(downloads) AS s FROM daily_downloads
    WHERE dimension <> 'overall' AND package <> '__all__' GROUP BY day, package, dimension
) b JOIN (
    SELECT day, package, sum(downloads) FILTER (WHERE category = 'without_mirrors') AS wo
    FROM daily_downloads WHERE dimension = 'overall' GROUP BY day, package
) o USING (day, package)
WHERE b.s IS DISTINCT FROM o.wo
"""
MAJOR_NOT_MINORS = """
SELECT count(*) FROM (
    SELECT day, package, CASE WHEN category = 'null' THEN 'null' ELSE split_part(category, '.', 1) END AS major,
           sum(downloads) AS s
    FROM daily_downloads WHERE dimension = 'python_minor' GROUP BY 1, 2, 3
) mi FULL JOIN (
    SELECT day, package, category AS major, downloads AS s FROM daily_downloads WHERE dimension = 'python_major'
) ma USING (day, package, major)
WHERE mi.s IS DISTINCT FROM ma.s
"""
ALL_NOT_SUMS = """
SELECT count(*) FROM (
    SELECT day, dimension, category, sum(downloads) AS s FROM daily_downloads
    WHERE package <> '__all__' GROUP BY 1, 2, 3
) p FULL JOIN (
    SELECT day, dimension, category, downloads AS s FROM daily_downloads WHERE package = '__all__'
) a USING (day, dimension, category)
WHERE p.s IS DISTINCT FROM a.s
"""
ROWS_PER_PACKAGE_DAY = (
    "SELECT count(*) FROM daily_downloads WHERE package <> '__all__' GROUP BY day, package ORDER BY 1"
)


@pytest.mark.parametrize("layout", ["packed", "legacy"])
async def test_seeded_rows_have_the_shape_readers_expect(servers: Servers, layout: seed.Layout) -> None:
    admin_url = servers.postgres_url
    name = seed.database_name(layout, PACKAGES)
    url = await seed.create_migrated(admin_url, name, layout)
    try:
        conn = await asyncpg.connect(url)
        try:
            books = await seed.fill(conn, layout, PACKAGES, DAYS)
            overall = await conn.fetch(OVERALL)
            assert len(overall) == books.package_days > 0
            assert all(r["w"] is not None and r["w"] >= r["wo"] for r in overall)
            assert await conn.fetchval(NOT_POSITIVE) == 0
            assert await conn.fetchval(BREAKDOWN_NOT_WITHOUT) == 0
            assert await conn.fetchval(MAJOR_NOT_MINORS) == 0
            assert await conn.fetchval(ALL_NOT_SUMS) == 0
            rows = [r[0] for r in await conn.fetch(ROWS_PER_PACKAGE_DAY)]
            assert sum(rows) == books.rows
            assert rows[0] < rows[-1]  # small packages have fewer categories than big ones
            sizes = sorted(r["w"] for r in overall)
            assert sizes[-1] > 10 * sizes[len(sizes) // 2]  # heavy-tailed

            last = seed.END
            days = await conn.fetch("SELECT day, packages FROM ingest_days ORDER BY day")
            assert [r["day"] for r in days] == shape.window(last, DAYS)
            assert sum(r["packages"] for r in days) == books.package_days
            assert await conn.fetchval("SELECT count(*) FROM package_index") == len(
                {r["package"] for r in overall}
            )
            month = await conn.fetchval(
                "SELECT downloads FROM recent_downloads WHERE package = '__all__' AND period = 'month'"
            )
            assert month == sum(r["wo"] for r in overall)
            day = await conn.fetchval(
                "SELECT sum(downloads) FROM recent_downloads WHERE package <> '__all__' AND period = 'day'"
            )
            assert day == sum(r["wo"] for r in overall if r["day"] == last)
            if layout == "packed":
                cutoff = await conn.fetchval("SELECT cutoff FROM retention_state")
                assert cutoff == last - dt.timedelta(days=180)
        finally:
            await conn.close()
    finally:
        await seed.drop_database(admin_url, name)


def test_generator_is_deterministic_per_day() -> None:
    packages = shape.Packages.draw(PACKAGES, seed=3)
    a = shape.day_counts(packages, 3, 1, DAYS, 0)
    b = shape.day_counts(shape.Packages.draw(PACKAGES, seed=3), 3, 1, DAYS, 0)
    assert np.array_equal(a.breakdown, b.breakdown) and np.array_equal(a.with_mirrors, b.with_mirrors)
    assert shape.package_names(60)[:2] == ["boto3", "urllib3"] and shape.package_names(60)[-1] == "pkg-59"
