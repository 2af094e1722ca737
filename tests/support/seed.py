"""Rows written straight into the rollup tables, for tests of the readers (api, web, auth).

Writes what the aggregator would have written for a few packages: daily rows for every dimension,
the ``__all__`` sums, the package index, the complete days and the recent totals, so reader tests
do not depend on the pipeline. Numbers are deterministic and simple to check by hand. Like the
aggregator, :func:`seed` then compacts the months that are due (shared/db/compaction.py), so
readers are tested on open days and compacted months together.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

import asyncpg

from services.aggregator import discovery
from services.aggregator.recent import RECENT_LOCK_CLASS
from shared.db.compaction import compact_due
from shared.db.layout import Dictionary, Runs, categories_of, encode
from shared.packages import ALL_PACKAGES

Row = tuple[dt.date, str, str, str, int]  # day, package, dimension, category, downloads


def package_rows(package: str, base: int, end: dt.date, days: int) -> list[Row]:
    """``days`` days ending at ``end``: on day i (0 = oldest) with_mirrors = base + i + 10,
    without_mirrors = base + i, split over python 3.12 / 3.11 / 2.7 / null and Linux / Windows / Darwin / other / null,
    versions 2.32.3 / 2.31.0 / 2.0.0, countries US / DE, files bdist_wheel / sdist, ci true / null, and
    with_mirrors over the installers pip / uv / bandersnatch (8) / null (2).
    """
    rows: list[Row] = []
    for i in range(days):
        day = end - dt.timedelta(days=days - 1 - i)
        n = base + i
        rows.append((day, package, "overall", "with_mirrors", n + 10))
        rows.append((day, package, "overall", "without_mirrors", n))
        minors = {"3.12": n - n // 2 - n // 4 - 1, "3.11": n // 2, "2.7": n // 4, "null": 1}
        majors = {"3": minors["3.12"] + minors["3.11"], "2": minors["2.7"], "null": 1}
        systems = {"Linux": n - n // 3 - 3, "Windows": n // 3, "Darwin": 1, "other": 1, "null": 1}
        versions = {"2.32.3": n - n // 3 - n // 5, "2.31.0": n // 3, "2.0.0": n // 5}
        installers = {"pip": n - n // 4, "uv": n // 4, "bandersnatch": 8, "null": 2}
        countries = {"US": n - n // 2, "DE": n // 2}
        files = {"bdist_wheel": n - 1, "sdist": 1}
        ci = {"true": n // 3, "null": n - n // 3}
        for dimension, values in (
            ("python_major", majors),
            ("python_minor", minors),
            ("system", systems),
            ("version", versions),
            ("installer", installers),
            ("country", countries),
            ("file_type", files),
            ("ci", ci),
        ):
            rows.extend((day, package, dimension, c, v) for c, v in values.items() if v > 0)
    return rows


def with_all(rows: Iterable[Row]) -> list[Row]:
    """The rows plus their ``__all__`` sums per day, dimension and category."""
    rows = list(rows)
    sums: dict[tuple[dt.date, str, str], int] = defaultdict(int)
    for day, _package, dimension, category, downloads in rows:
        if dimension != "version":  # versions of different packages are unrelated
            sums[(day, dimension, category)] += downloads
    return rows + [(d, ALL_PACKAGES, dim, cat, n) for (d, dim, cat), n in sums.items()]


RECENT_SQL = """
INSERT INTO recent_downloads (package, period, downloads)
SELECT package, p.period, coalesce(sum(downloads) FILTER (WHERE day > $1::date - p.days), 0)
FROM daily_downloads
CROSS JOIN (VALUES ('day', 1, 'without_mirrors'), ('week', 7, 'without_mirrors'), ('month', 30, 'without_mirrors'))
    AS p(period, days, category)
WHERE dimension = 'overall' AND daily_downloads.category = p.category AND day > $1::date - 30 AND day <= $1::date
GROUP BY package, p.period
UNION ALL
SELECT package, 'people_month', sum(downloads) FROM daily_downloads
WHERE dimension = 'overall' AND category = 'people' AND day > $1::date - 30 AND day <= $1::date
GROUP BY package
"""


def people_rows(package: str, base: int, end: dt.date, days: int) -> list[Row]:
    """The downloads by people of :func:`package_rows`' days: n // 2 of day i's n = base + i."""
    out: list[Row] = []
    for i in range(days):
        day = end - dt.timedelta(days=days - 1 - i)
        if (base + i) // 2:
            out.append((day, package, "overall", "people", (base + i) // 2))
    return out


def platform_rows(package: str, base: int, end: dt.date, days: int) -> list[Row]:
    """Platforms and ABIs of :func:`package_rows`' days (each sums to day i's n = base + i, with
    its one sdist): manylinux x86_64 n // 2, macOS arm64 n // 5, Windows amd64 n // 6, the rest
    any; ABIs cp312 n // 2, cp313t n // 10, abi3 n // 5, the rest cp313 (from n - 1 wheels)."""
    out: list[Row] = []
    for i in range(days):
        day = end - dt.timedelta(days=days - 1 - i)
        n = base + i
        wheels = n - 1
        platforms = {
            "manylinux x86_64": n // 2, "macOS arm64": n // 5, "Windows amd64": n // 6,
            "any": wheels - n // 2 - n // 5 - n // 6, "sdist": 1,
        }  # fmt: skip
        abis = {"cp312": n // 2, "cp313t": n // 10, "abi3": n // 5, "sdist": 1}
        abis["cp313"] = wheels - n // 2 - n // 10 - n // 5
        for dimension, values in (("platform", platforms), ("abi", abis)):
            out.extend((day, package, dimension, c, v) for c, v in values.items() if v > 0)
    return out


async def write_rows(db: asyncpg.Pool, rows: list[Row], run_id: str = "seed") -> None:
    """Store ``rows`` as packed package-days (``__all__`` rows as its day sums), as the aggregator does."""
    by_key: dict[tuple[dt.date, str], list[tuple[str, str, int]]] = defaultdict(list)
    for day, package, dimension, category, downloads in rows:
        by_key[(day, package)].append((dimension, category, downloads))
    ids = await Dictionary().ids(db, {k for found in by_key.values() for k in categories_of(found)})
    run = await Runs().id(db, run_id)
    packed = {key: encode(found, ids) for key, found in by_key.items()}
    await db.copy_records_to_table(
        "downloads_days",
        records=[
            (0, p.with_mirrors, p.without_mirrors, day, run, package, p.cells, p.details, p.versions, p.people)
            for (day, package), p in packed.items()
            if package != ALL_PACKAGES
        ],
        columns=[
            "seq", "with_mirrors", "without_mirrors", "day", "run", "package", "cells", "details", "versions",
            "people",
        ],
    )  # fmt: skip
    await db.copy_records_to_table(
        "downloads_all",
        records=[
            (day, run, p.with_mirrors, p.without_mirrors, p.cells, p.details, p.people)
            for (day, package), p in packed.items()
            if package == ALL_PACKAGES
        ],
        columns=["day", "run", "with_mirrors", "without_mirrors", "cells", "details", "people"],
    )


async def seed(
    db: asyncpg.Pool, rows: Iterable[Row], *, run_id: str = "seed", compact: bool = True
) -> dt.date:
    """Write ``rows`` (add ``__all__`` with :func:`with_all`) and every derived table (the discovery
    lists by the aggregator's own code), compact the
    due months unless ``compact`` is False; returns the last day."""
    rows = list(rows)
    days = sorted({r[0] for r in rows})
    await write_rows(db, rows, run_id)
    packages = sorted({r[1] for r in rows if r[1] != ALL_PACKAGES})
    await db.executemany(
        "INSERT INTO package_index (package, first_day, last_day) VALUES ($1, $2, $3)",
        [(p, min(r[0] for r in rows if r[1] == p), max(r[0] for r in rows if r[1] == p)) for p in packages],
    )
    await db.executemany(
        "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors) VALUES ($1, $2, 'seed', $3, $4, $5)",
        [
            (
                d,
                run_id,
                len({r[1] for r in rows if r[0] == d and r[1] != ALL_PACKAGES}),
                sum(1 for r in rows if r[0] == d),
                sum(
                    r[4]
                    for r in rows
                    if r[0] == d and r[2] == "overall" and r[3] == "with_mirrors" and r[1] != ALL_PACKAGES
                ),
            )
            for d in days
        ],
    )
    await db.execute(RECENT_SQL, days[-1])
    async with db.acquire() as conn, conn.transaction():  # the aggregator's own steps (before compaction)
        for d in days:
            await discovery.record_day(conn, d)
        await discovery.rebuild(conn, RECENT_LOCK_CLASS)
    if compact:
        await compact_due(db, days[-1])
    return days[-1]
