"""A bench database of N packages x D days, written straight through COPY, and its size on disk.

Owns the benchmark database of issues 12 (storage layout), 13 (more dimensions) and 20 (the
history store): create it, migrate it (``history``, the default: every migration, closed months
written compacted and the open days as package-day rows, bench/seed_history.py; ``packed``: up to
0008, the month-partitioned ``downloads``, or up to ``--target``; ``legacy``: up to 0005, the
day-partitioned ``daily_downloads``), fill it one day at a time from bench.shape (bounded memory,
one COPY per table and day) with everything readers need (the package-days, the ``__all__`` sums,
``package_index``, ``ingest_days``, ``recent_downloads``, ``recent_state``; for packed also
``ingest_runs`` and ``retention_state``), then measure bytes on disk per package-day: the
database's size minus that of an empty database migrated the same way (made and dropped here),
after ``CHECKPOINT`` and ``VACUUM ANALYZE``, over the package-days.

``--dimensions all`` (packed's default) also writes installer, country, file_type, ci, platform and
abi into the ``details`` arrays (of ``downloads`` and ``downloads_all``) and version into
``versions`` (bench/shape_details.py); ``base`` writes python_major, python_minor and system only,
the same counts as with ``all`` (their random streams are separate).

The history layout from migration 0013 on also gets the discovery lists (``discovery_lists``),
built on the last day by the aggregator's own code after the fill, with the trend rows of the last
56 days they need (bench/seed_discovery.py); a line says what was built.

    .venv/bin/python -m bench.seed --packages 10000 [--days 181] [--layout history|packed|legacy]
        [--dimensions base|all] [--target N] [--database-url ADMIN_DSN] [--name pypistats_bench_x]
        [--keep] [--seed 1]

Prints a JSON object (package-days, rows and rows per package-day, database size, bytes per
package-day (the discovery tables left out, their bytes reported apart as ``discovery_bytes``),
for packed also ``downloads``' own bytes per package-day and the average stored bytes of each
array column, for history the store's tables and each block's bytes per package-day, seconds) and
drops the database unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import repeat
from typing import Any, Final, Literal

import asyncpg
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from bench import shape, shape_details
from shared.db.layout import COUNT_BITS, Dictionary, Runs
from shared.db.migrate import migrate
from shared.logging import configure_logging
from shared.packages import ALL_PACKAGES
from tests.support.servers import with_database

Layout = Literal["history", "packed", "legacy"]
#: ``base``: python_major, python_minor, system; ``all``: also installer, country, file_type, ci,
#: platform, abi, version.
Dimensions = Literal["base", "all"]
ADMIN_URL: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
#: The last migration of the day-partitioned layout.
LEGACY_TARGET: Final = 5
#: The first and last migrations of the month-partitioned packed layout, the one that adds the
#: details and versions arrays, and the first of the history store.
PACKED_FIRST: Final = 6
PACKED_LAST: Final = 8
HISTORY_FIRST: Final = 9
DETAILS_FROM: Final = 8
END: Final = dt.date(2026, 3, 31)
SOURCE: Final = "bench"
PREFIX: Final = "pypistats_bench_"
_NAME = re.compile(r"^pypistats_bench_[a-z0-9_]{1,40}$")

ENSURE_DAYS = "SELECT ensure_day_partitions($1, $2, $3)"
ENSURE_MONTHS = "SELECT ensure_month_partitions('downloads', $1, $2)"
IS_PACKED = "SELECT to_regclass('downloads') IS NOT NULL"
IS_HISTORY = "SELECT to_regclass('downloads_months') IS NOT NULL AND to_regclass('downloads') IS NULL"
#: Package-days of the history store: the open ones, and the days of each compacted month.
COUNT_HISTORY = """
SELECT (SELECT count(*) FROM downloads_days)
     + (SELECT coalesce(sum(bit_count(days::bit(32))), 0) FROM downloads_months WHERE package <> '__all__')
"""
HISTORY_BYTES = """
SELECT coalesce(sum(pg_total_relation_size(relid)), 0) + pg_total_relation_size('downloads_days')
FROM pg_partition_tree('downloads_months')
"""
# Average stored bytes per package-day of each block of a compacted month (its days counted).
BLOCK_BYTES = """
SELECT sum(pg_column_size(overall))::float8 / n AS overall, sum(pg_column_size(cells))::float8 / n AS cells,
       sum(pg_column_size(details))::float8 / n AS details, sum(pg_column_size(versions))::float8 / n AS versions
FROM downloads_months, (SELECT greatest(sum(bit_count(days::bit(32))), 1) AS n FROM downloads_months
                        WHERE package <> '__all__') AS c
WHERE package <> '__all__'
GROUP BY n
"""
COUNT_PACKED = "SELECT count(*) FROM downloads"
COUNT_LEGACY = "SELECT count(*) FROM package_days"
DATABASE_SIZE = "SELECT pg_database_size($1)"
DISCOVERY_TABLES: Final = ("trend_days", "trend_days_done", "discovery_lists")
DISCOVERY_BYTES = (
    "SELECT coalesce(sum(pg_total_relation_size(to_regclass(t))), 0) FROM unnest($1::text[]) AS t"
)
INSERT_ALL_BASE = """
INSERT INTO downloads_all (day, run, with_mirrors, without_mirrors, cells) VALUES ($1, $2, $3, $4, $5)
"""
INSERT_ALL = """
INSERT INTO downloads_all (day, run, with_mirrors, without_mirrors, cells, details)
VALUES ($1, $2, $3, $4, $5, $6)
"""
# Average stored size of each array column of a package-day (compressed if PostgreSQL compressed it).
COLUMN_BYTES = """
SELECT avg(pg_column_size(cells)) AS cells, avg(pg_column_size(details)) AS details,
       avg(pg_column_size(versions)) AS versions
FROM downloads
"""
BASE_COLUMN_BYTES = "SELECT avg(pg_column_size(cells)) AS cells FROM downloads"
LAST_MIGRATION = "SELECT max(version) FROM schema_migrations"
HAS_DETAILS = "SELECT EXISTS (SELECT 1 FROM categories WHERE dimension IN ('installer', 'version'))"
TABLE_BYTES = "SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree('downloads')"
RECENT_ANCHOR = "UPDATE recent_state SET anchor = $1, stale = false, built_at = now()"
RETENTION = """
INSERT INTO retention_state (cutoff) VALUES ($1) ON CONFLICT (id) DO UPDATE SET cutoff = EXCLUDED.cutoff
"""
PACKED_COLUMNS: Final = (
    "seq",
    "with_mirrors",
    "without_mirrors",
    "day",
    "run",
    "package",
    "cells",
    "details",
    "versions",
)
LEGACY_COLUMNS: Final = ("day", "package", "dimension", "category", "downloads")
BOOK_COLUMNS: Final = ("day", "package", "run_id", "rows", "seq", "without_mirrors")
DAY_COLUMNS: Final = ("day", "run_id", "source", "packages", "rows", "downloads_with_mirrors")
#: Every column of a legacy package-day: the overall pair, then bench.shape.BREAKDOWN.
LEGACY_KEYS: Final = (("overall", "with_mirrors"), ("overall", "without_mirrors"), *shape.BREAKDOWN)


def default_dimensions(layout: Layout) -> Dimensions:
    return "base" if layout == "legacy" else "all"


def database_name(layout: Layout, packages: int) -> str:
    return f"{PREFIX}{layout}_{packages}_{uuid.uuid4().hex[:8]}"


def checked_name(name: str) -> str:
    """A database name given on the command line, accepted only in the bench's own form."""
    if not _NAME.match(name):
        raise SystemExit(f"--name must match {_NAME.pattern}")
    return name


async def create_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{checked_name(name)}"')  # checked bench name, not free input
    finally:
        await admin.close()


async def drop_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{checked_name(name)}" WITH (FORCE)')
    finally:
        await admin.close()


def migration_target(layout: Layout, target: int | None = None) -> int | None:
    """The last migration to apply: ``target`` if given (it must suit ``layout``), else the
    layout's last (every migration for packed)."""
    if layout == "legacy":
        if target not in (None, LEGACY_TARGET):
            raise SystemExit(f"the legacy layout is migration {LEGACY_TARGET}")
        return LEGACY_TARGET
    if layout == "packed":
        if target is not None and not PACKED_FIRST <= target <= PACKED_LAST:
            raise SystemExit(f"the packed layout is migrations {PACKED_FIRST} to {PACKED_LAST}")
        return target or PACKED_LAST
    if target is not None and target < HISTORY_FIRST:
        raise SystemExit(f"the history store needs migration {HISTORY_FIRST} or later")
    return target


async def create_migrated(admin_url: str, name: str, layout: Layout, target: int | None = None) -> str:
    """A new database migrated for ``layout`` (up to ``target`` if given); returns its URL."""
    await create_database(admin_url, name)
    url = with_database(admin_url, name)
    await migrate(url, target=migration_target(layout, target))
    return url


async def settled_size(admin_url: str, name: str) -> int:
    """pg_database_size after VACUUM ANALYZE (which also writes the visibility maps) and a CHECKPOINT."""
    conn = await asyncpg.connect(with_database(admin_url, name))
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute("CHECKPOINT")
        return int(await admin.fetchval(DATABASE_SIZE, name))
    finally:
        await admin.close()


async def discovery_size(admin_url: str, name: str) -> int:
    """Bytes of the discovery tables (migration 0013; 0 before it), of a settled database."""
    conn = await asyncpg.connect(with_database(admin_url, name))
    try:
        return int(await conn.fetchval(DISCOVERY_BYTES, list(DISCOVERY_TABLES)))
    finally:
        await conn.close()


async def empty_size(admin_url: str, layout: Layout, target: int | None = None) -> tuple[int, int]:
    """The size of an empty database migrated for ``layout`` up to ``target`` (created and dropped
    here), and that of its (empty) discovery tables."""
    name = database_name(layout, 0) + "_empty"
    await create_migrated(admin_url, name, layout, target)
    try:
        return await settled_size(admin_url, name), await discovery_size(admin_url, name)
    finally:
        await drop_database(admin_url, name)


@dataclass
class Storage:
    database: str
    layout: Layout
    package_days: int
    database_bytes: int
    empty_bytes: int
    migration: int  # the last migration applied (its empty database is the baseline)
    dimensions: Dimensions  # "all" when any package-day has a category of the issue 13 dimensions
    #: packed only: ``downloads`` with its indexes and TOAST, and the average stored size of each
    #: array column of a package-day (compressed where PostgreSQL compressed it)
    downloads_bytes: int | None = None
    column_bytes: dict[str, float] | None = None
    #: What the discovery tables (trend_days, trend_days_done, discovery_lists) add over the empty
    #: database's: left out of bytes_per_package_day, since they hold the last 56 days whatever the
    #: history's length (so the figure stays comparable with those measured before them).
    discovery_bytes: int = 0

    @property
    def bytes_per_package_day(self) -> float:
        return (self.database_bytes - self.empty_bytes - self.discovery_bytes) / max(self.package_days, 1)

    def as_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "bytes_per_package_day": round(self.bytes_per_package_day, 1)}
        if self.downloads_bytes is not None:
            out["downloads_bytes_per_package_day"] = round(
                self.downloads_bytes / max(self.package_days, 1), 1
            )
        return out


async def storage(admin_url: str, name: str) -> Storage:
    """Bytes on disk per package-day of a filled bench database (either layout, found by its tables)."""
    size = await settled_size(admin_url, name)
    discovery = await discovery_size(admin_url, name)
    conn = await asyncpg.connect(with_database(admin_url, name))
    try:
        history = bool(await conn.fetchval(IS_HISTORY))
        packed = bool(await conn.fetchval(IS_PACKED))
        target = int(await conn.fetchval(LAST_MIGRATION))
        dimensions: Dimensions = "all" if (packed or history) and await conn.fetchval(HAS_DETAILS) else "base"
        if history:
            count = int(await conn.fetchval(COUNT_HISTORY))
            table: int | None = int(await conn.fetchval(HISTORY_BYTES))
            columns = await conn.fetchrow(BLOCK_BYTES)
        else:
            count = int(await conn.fetchval(COUNT_PACKED if packed else COUNT_LEGACY))
            table = int(await conn.fetchval(TABLE_BYTES)) if packed else None
            columns = (
                await conn.fetchrow(COLUMN_BYTES if target >= DETAILS_FROM else BASE_COLUMN_BYTES)
                if packed
                else None
            )
    finally:
        await conn.close()
    layout: Layout = "history" if history else "packed" if packed else "legacy"
    found = {k: round(float(v or 0), 1) for k, v in columns.items()} if columns is not None else None
    empty, empty_discovery = await empty_size(admin_url, layout, target)
    return Storage(
        name, layout, count, size, empty, target, dimensions, table, found, discovery - empty_discovery
    )


@dataclass
class Books:
    """What is summed over the days while they are written: index spans, recent totals, day records."""

    n: int
    days: int
    first: npt.NDArray[np.int64] = field(init=False)
    last: npt.NDArray[np.int64] = field(init=False)
    recent: npt.NDArray[np.int64] = field(init=False)  # (n + 1, 3): day, week, month; last row __all__
    in_month: npt.NDArray[np.bool_] = field(init=False)
    ingest_days: list[tuple[Any, ...]] = field(default_factory=list)
    package_days: int = 0
    rows: int = 0

    def __post_init__(self) -> None:
        self.first = np.full(self.n, -1, dtype=np.int64)
        self.last = np.full(self.n, -1, dtype=np.int64)
        self.recent = np.zeros((self.n + 1, 3), dtype=np.int64)
        self.in_month = np.zeros(self.n, dtype=np.bool_)

    def add(self, index: int, day: dt.date, run_id: str, counts: shape.Day) -> None:
        exists = counts.exists
        self.first[(self.first < 0) & exists] = index
        self.last[exists] = index
        back = self.days - 1 - index  # 0 on the anchor day
        without = np.append(counts.without_mirrors * exists, counts.without_mirrors[exists].sum())
        for column, period in enumerate((1, 7, 30)):
            if back < period:
                self.recent[:, column] += without
        if back < 30:
            self.in_month |= exists
        packages, rows = int(exists.sum()), int(counts.rows()[exists].sum())
        self.package_days += packages
        self.rows += rows
        with_mirrors = int(counts.with_mirrors.sum())
        self.ingest_days.append((day, run_id, SOURCE, packages, rows, with_mirrors))

    async def write(self, conn: asyncpg.Connection, names: Sequence[str], dates: Sequence[dt.date]) -> None:
        seen = np.flatnonzero(self.first >= 0)
        await conn.copy_records_to_table(
            "package_index",
            records=[(names[i], dates[self.first[i]], dates[self.last[i]]) for i in seen.tolist()],
            columns=("package", "first_day", "last_day"),
        )
        await conn.copy_records_to_table("ingest_days", records=self.ingest_days, columns=DAY_COLUMNS)
        recent = [*np.flatnonzero(self.in_month).tolist(), self.n]  # self.n: the __all__ row
        records = [
            ((names[i] if i < self.n else ALL_PACKAGES), period, int(self.recent[i, column]))
            for i in recent
            for column, period in enumerate(("day", "week", "month"))
        ]
        await conn.copy_records_to_table(
            "recent_downloads", records=records, columns=("package", "period", "downloads")
        )
        await conn.execute(RECENT_ANCHOR, dates[-1])


@dataclass(frozen=True)
class Batch:
    """One day of every package, as the writers get it."""

    index: int  # 0 = the oldest day
    day: dt.date
    run_id: str
    names: npt.NDArray[Any]  # every package name (object array)
    counts: shape.Day

    @property
    def rows(self) -> npt.NDArray[np.intp]:
        """Indexes of the packages with a package-day (any download) on this day."""
        return np.flatnonzero(self.counts.exists)

    def seqs(self) -> list[int]:
        """Stream sequences as the aggregator records them: increasing over days and packages."""
        return (self.index * len(self.names) + self.rows + 1).tolist()  # type: ignore[no-any-return]


class Columns:
    """Cells of a fixed set of (dimension, category) columns, in category-id order."""

    def __init__(self, ids: dict[tuple[str, str], int], keys: Sequence[tuple[str, str]]) -> None:
        column_ids = np.array([ids[key] for key in keys], dtype=np.int64)
        self.order = np.argsort(column_ids)
        self.shifted = column_ids[self.order] << COUNT_BITS

    def cells(self, counts: npt.NDArray[np.int64]) -> list[list[int]]:
        """Each row's non-zero counts as cells, in category-id order."""
        counts = counts[:, self.order]
        return _rows_of(np.broadcast_to(self.shifted, counts.shape) | counts, counts > 0)


def _rows_of(cells: npt.NDArray[np.int64], keep: npt.NDArray[np.bool_]) -> list[list[int]]:
    """The kept cells of each row (in column order) as one list per row."""
    flat = cells[keep].tolist()
    ends = np.cumsum(keep.sum(axis=1)).tolist()
    return [flat[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


class Versions:
    """Cells of the version columns, whose category differs per package and day."""

    def __init__(self, ids: dict[tuple[str, str], int], names: list[list[str]], packages: int) -> None:
        self.ids = np.array([[ids[("version", v)] for v in scheme] for scheme in names], dtype=np.int64)
        self.scheme = np.arange(packages) % shape_details.SCHEMES

    @staticmethod
    def keys(names: list[list[str]]) -> list[tuple[str, str]]:
        return sorted({("version", v) for scheme in names for v in scheme})

    def cells(
        self, rows: npt.NDArray[np.intp], counts: npt.NDArray[np.int64], releases: npt.NDArray[np.int64]
    ) -> list[list[int]]:
        """The version cells of packages ``rows`` (their counts and release numbers), sorted by id."""
        ids = self.ids[self.scheme[rows][:, None], np.maximum(releases, 0)]
        cells = np.where(counts > 0, (ids << COUNT_BITS) | counts, np.iinfo(np.int64).max)
        cells.sort(axis=1)  # by category id (its high bits); the empty slots last
        return _rows_of(cells, cells != np.iinfo(np.int64).max)


class PackedWriter:
    """Package-days as rows of ``downloads`` (cells sorted by category id within each array) and
    ``downloads_all`` (no versions: those of different packages are unrelated)."""

    #: Where package-days go (the history store's writer: its open days).
    table = "downloads"

    def __init__(self) -> None:
        self.runs = Runs()

    async def ensure(self, conn: asyncpg.Connection, dates: Sequence[dt.date]) -> None:
        await conn.fetchval(ENSURE_MONTHS, dates[0], dates[-1])

    async def prepare(
        self, conn: asyncpg.Connection, dates: Sequence[dt.date], details: shape_details.DetailParams | None
    ) -> None:
        await self.ensure(conn, dates)
        dictionary = Dictionary()
        self.base = Columns(await dictionary.ids(conn, shape.BREAKDOWN), shape.BREAKDOWN)
        if details is not None:
            names = shape_details.version_names(details.max_release(len(dates)))
            ids = await dictionary.ids(conn, [*shape_details.DETAILS, *Versions.keys(names)])
            self.details = Columns(ids, shape_details.DETAILS)
            self.versions = Versions(ids, names, details.n)

    async def day(self, conn: asyncpg.Connection, batch: Batch) -> None:
        run = await self.runs.id(conn, batch.run_id)
        counts, rows = batch.counts, batch.rows
        arrays = [self.base.cells(counts.breakdown[rows])]
        total = counts.breakdown[rows].sum(axis=0, keepdims=True)
        sums = [self.base.cells(total)[0]]
        extra = counts.details
        if extra is not None:
            arrays.append(self.details.cells(extra.counts[rows]))
            arrays.append(self.versions.cells(rows, extra.versions[rows], extra.releases[rows]))
            sums.append(self.details.cells(extra.counts[rows].sum(axis=0, keepdims=True))[0])
        records = zip(
            batch.seqs(),
            counts.with_mirrors[rows].tolist(),
            counts.without_mirrors[rows].tolist(),
            repeat(batch.day),
            repeat(run),
            batch.names[rows].tolist(),
            *arrays,
            strict=False,
        )
        columns = PACKED_COLUMNS[: 6 + len(arrays)]
        await conn.copy_records_to_table(self.table, records=records, columns=columns)
        with_all, without_all = int(counts.with_mirrors.sum()), int(counts.without_mirrors.sum())
        insert_all = INSERT_ALL if extra is not None else INSERT_ALL_BASE
        await conn.execute(insert_all, batch.day, run, with_all, without_all, *sums)

    async def finish(self, conn: asyncpg.Connection, dates: Sequence[dt.date]) -> None:
        # 181 dates as RETENTION_DAYS=180 kept them; a longer window keeps every day seeded
        cutoff = dates[-1] - dt.timedelta(days=180) if len(dates) <= 181 else dates[0]
        await conn.execute(RETENTION, cutoff)


class LegacyWriter:
    """Package-days as rows of ``daily_downloads`` (one per non-zero count) and ``package_days``."""

    def __init__(self) -> None:
        self.dimensions = np.array([k[0] for k in LEGACY_KEYS], dtype=object)
        self.categories = np.array([k[1] for k in LEGACY_KEYS], dtype=object)

    async def prepare(
        self, conn: asyncpg.Connection, dates: Sequence[dt.date], details: shape_details.DetailParams | None
    ) -> None:
        for table in ("daily_downloads", "package_days"):
            await conn.fetchval(ENSURE_DAYS, table, dates[0], dates[-1])

    async def day(self, conn: asyncpg.Connection, batch: Batch) -> None:
        counts, rows, day = batch.counts, batch.rows, batch.day
        matrix = np.concatenate(
            [counts.with_mirrors[rows, None], counts.without_mirrors[rows, None], counts.breakdown[rows]],
            axis=1,
        )
        at, column = np.nonzero(matrix)
        records: list[tuple[Any, ...]] = list(
            zip(
                repeat(day),
                batch.names[rows][at].tolist(),
                self.dimensions[column].tolist(),
                self.categories[column].tolist(),
                matrix[at, column].tolist(),
                strict=False,
            )
        )
        total = matrix.sum(axis=0)
        records.extend(
            (day, ALL_PACKAGES, LEGACY_KEYS[c][0], LEGACY_KEYS[c][1], int(total[c]))
            for c in np.flatnonzero(total)
        )
        await conn.copy_records_to_table("daily_downloads", records=records, columns=LEGACY_COLUMNS)
        books = zip(
            repeat(day),
            batch.names[rows].tolist(),
            repeat(batch.run_id),
            np.count_nonzero(matrix, axis=1).tolist(),
            batch.seqs(),
            counts.without_mirrors[rows].tolist(),
            strict=False,
        )
        await conn.copy_records_to_table("package_days", records=books, columns=BOOK_COLUMNS)

    async def finish(self, conn: asyncpg.Connection, dates: Sequence[dt.date]) -> None:
        return None


async def fill(
    conn: asyncpg.Connection,
    layout: Layout,
    packages: int,
    days: int,
    *,
    end: dt.date = END,
    seed: int = 1,
    dimensions: Dimensions = "all",
    progress: bool = False,
    compacted: bool = True,
) -> Books:
    """Write ``packages`` x ``days`` ending at ``end`` into a migrated, empty database, with the
    ``base`` dimensions only or ``all`` (not the legacy layout: it has no place for them); the
    history layout writes closed months compacted unless ``compacted`` is False (every day open)."""
    if layout == "legacy" and dimensions != "base":
        raise ValueError("the legacy layout holds the base dimensions only")
    dates = shape.window(end, days)
    names = shape.package_names(packages)
    name_array = np.array(names, dtype=object)
    params = shape.Packages.draw(packages, seed)
    details = shape_details.DetailParams.draw(packages, seed) if dimensions == "all" else None
    writer: PackedWriter | LegacyWriter
    trend = None
    if layout == "history":
        # these build on this module's writers and batches
        from bench import seed_discovery
        from bench.seed_history import HistoryWriter

        writer = HistoryWriter(compacted=compacted)
        if await seed_discovery.has_discovery(conn):
            trend = seed_discovery.TrendDays(dates)
    else:
        writer = PackedWriter() if layout == "packed" else LegacyWriter()
    books = Books(packages, days)
    await conn.execute("SET synchronous_commit = off")
    await writer.prepare(conn, dates, details)
    bar = tqdm(total=days, unit="day", disable=not progress, desc=f"seed {layout} {dimensions} {packages}")
    for index, day in enumerate(dates):
        counts = shape.day_counts(params, seed, index, days, day.weekday(), details)
        run_id = f"{SOURCE}-{day.isoformat()}"
        batch = Batch(index, day, run_id, name_array, counts)
        async with conn.transaction():
            await writer.day(conn, batch)
            if trend is not None and isinstance(writer, HistoryWriter):
                await trend.day(conn, batch, writer.is_open(day))
        books.add(index, day, run_id, counts)
        bar.update()
        bar.set_postfix(package_days=books.package_days, refresh=False)
    bar.close()
    async with conn.transaction():
        await books.write(conn, names, dates)
        await writer.finish(conn, dates)
    if trend is not None:
        if progress:
            print(
                f"discovery lists: rebuilding on {dates[-1]} (services/aggregator/discovery.py)", flush=True
            )
        lists = await seed_discovery.rebuild(conn)
        if progress:
            print(lists.line(trend), flush=True)
    return books


async def seed_database(
    admin_url: str,
    name: str,
    layout: Layout,
    packages: int,
    days: int,
    seed: int = 1,
    dimensions: Dimensions | None = None,
    target: int | None = None,
) -> dict[str, Any]:
    """Create, migrate (up to ``target`` if given) and fill the bench database ``name`` with
    ``dimensions`` (default: all for packed, base for legacy); returns the figures (storage included)."""
    dimensions = dimensions or default_dimensions(layout)
    if dimensions == "all" and layout == "packed" and (target or PACKED_LAST) < DETAILS_FROM:
        raise SystemExit(f"--dimensions all needs migration {DETAILS_FROM} (the details and versions arrays)")
    started = time.monotonic()
    url = await create_migrated(admin_url, name, layout, target)
    conn = await asyncpg.connect(url)
    try:
        books = await fill(conn, layout, packages, days, seed=seed, dimensions=dimensions, progress=True)
    finally:
        await conn.close()
    filled = time.monotonic() - started
    found = await storage(admin_url, name)
    result = {
        **found.as_dict(),
        "packages": packages,
        "days": days,
        "rows": books.rows,
        "rows_per_package_day": round(books.rows / max(books.package_days, 1), 2),
        "fill_seconds": round(filled, 1),
    }
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--packages", type=int, required=True)
    parser.add_argument("--days", type=int, default=181)
    parser.add_argument(
        "--layout",
        choices=("history", "packed", "legacy"),
        default="history",
        help="history: the history store (migration 9 on); packed: the month-partitioned layout of migrations"
        " 6-8; legacy: the day-partitioned layout (5)",
    )
    parser.add_argument("--database-url", default=ADMIN_URL, help="an admin DSN of the server to use")
    parser.add_argument("--name", help=f"database name (default {PREFIX}<layout>_<N>_<random>)")
    parser.add_argument(
        "--dimensions",
        choices=("base", "all"),
        help="base: python_major/python_minor/system; all (the default for packed; legacy holds base only):"
        " also installer, country, file_type, ci, platform, abi, version",
    )
    parser.add_argument(
        "--target",
        type=int,
        help=f"apply migrations up to this one only (packed: {PACKED_FIRST} or later; e.g. 7, the packed"
        " layout before the details and versions arrays, with --dimensions base)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database (default: drop it)")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    if args.layout == "legacy" and args.dimensions == "all":
        parser.error("the legacy layout holds the base dimensions only")
    name = checked_name(args.name) if args.name else database_name(args.layout, args.packages)
    try:
        result = asyncio.run(
            seed_database(
                args.database_url,
                name,
                args.layout,
                args.packages,
                args.days,
                args.seed,
                args.dimensions,
                args.target,
            )
        )
        print(json.dumps({**result, "kept": args.keep}, indent=2), flush=True)
    finally:
        if not args.keep:
            asyncio.run(drop_database(args.database_url, name))


if __name__ == "__main__":
    main()
