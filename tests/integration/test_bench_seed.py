"""bench.seed's generator, run small (20 packages x 3 days) into a real database of each layout.

Keeps the benchmark code from rotting: the rows it writes must have the shape the readers and the
aggregator's rows have. Both layouts are read through ``daily_downloads`` (the table up to migration
0005, the view over the packed rows after 0007), so one set of checks covers both, with the base
dimensions and (packed) with all of them; the packed rows are also read back through
shared.series, as the API reads them.
"""

from __future__ import annotations

import datetime as dt
import json

import asyncpg
import numpy as np
import pytest

from bench import seed, shape, shape_details
from shared import series
from shared.db.layout import Dictionary
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
# Every breakdown sums to without_mirrors, except installer: its mirror part makes it with_mirrors.
BREAKDOWN_NOT_OVERALL = """
SELECT count(*) FROM (
    SELECT day, package, dimension, sum(downloads) AS s FROM daily_downloads
    WHERE dimension <> 'overall' AND package <> '__all__' GROUP BY day, package, dimension
) b JOIN (
    SELECT day, package, sum(downloads) FILTER (WHERE category = 'without_mirrors') AS wo,
           sum(downloads) FILTER (WHERE category = 'with_mirrors') AS w
    FROM daily_downloads WHERE dimension = 'overall' GROUP BY day, package
) o USING (day, package)
WHERE b.s IS DISTINCT FROM CASE WHEN b.dimension = 'installer' THEN o.w ELSE o.wo END
"""
DIMENSIONS = "SELECT DISTINCT dimension FROM daily_downloads ORDER BY 1"
# __all__ has no versions (those of different packages are unrelated).
ALL_DIMENSIONS = "SELECT DISTINCT dimension FROM daily_downloads WHERE package = '__all__' ORDER BY 1"
UNSORTED_ARRAYS = """
SELECT count(*) FROM downloads, LATERAL (VALUES (cells), (details), (versions)) AS a (cells)
WHERE a.cells IS DISTINCT FROM ARRAY(SELECT x FROM unnest(a.cells) AS x ORDER BY x)
"""
MISPLACED_CELLS = """
SELECT count(*) FROM downloads d, LATERAL (VALUES ('cells', d.cells), ('details', d.details),
                                                  ('versions', d.versions)) AS a (array_column, cells),
     LATERAL unnest(a.cells) AS x (cell) JOIN categories c ON c.id = cell_category(x.cell)
WHERE a.array_column <> CASE
    WHEN c.dimension IN ('python_major', 'python_minor', 'system') THEN 'cells'
    WHEN c.dimension = 'version' THEN 'versions' ELSE 'details' END
"""
VERSIONS_OF_BIGGEST = """
SELECT max(cardinality(versions)) AS most, percentile_disc(0.5) WITHIN GROUP (ORDER BY cardinality(versions)) AS median
FROM downloads
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
    WHERE package <> '__all__' AND dimension <> 'version' GROUP BY 1, 2, 3
) p FULL JOIN (
    SELECT day, dimension, category, downloads AS s FROM daily_downloads WHERE package = '__all__'
) a USING (day, dimension, category)
WHERE p.s IS DISTINCT FROM a.s
"""
ROWS_PER_PACKAGE_DAY = (
    "SELECT count(*) FROM daily_downloads WHERE package <> '__all__' GROUP BY day, package ORDER BY 1"
)


BASE = ["overall", "python_major", "python_minor", "system"]
NEW = ["abi", "ci", "country", "file_type", "installer", "platform", "version"]
#: Categories of a source distribution and of an egg, in both platform and abi (shared.platforms).
SENTINELS = {"sdist", "other"}


@pytest.mark.parametrize(
    ("layout", "dimensions"), [("packed", "all"), ("packed", "base"), ("legacy", "base")]
)
async def test_seeded_rows_have_the_shape_readers_expect(
    servers: Servers, layout: seed.Layout, dimensions: seed.Dimensions
) -> None:
    admin_url = servers.postgres_url
    name = seed.database_name(layout, PACKAGES)
    url = await seed.create_migrated(admin_url, name, layout)
    try:
        conn = await asyncpg.connect(url)
        try:
            books = await seed.fill(conn, layout, PACKAGES, DAYS, dimensions=dimensions)
            overall = await conn.fetch(OVERALL)
            assert len(overall) == books.package_days > 0
            assert all(r["w"] is not None and r["w"] >= r["wo"] for r in overall)
            assert await conn.fetchval(NOT_POSITIVE) == 0
            assert await conn.fetchval(BREAKDOWN_NOT_OVERALL) == 0
            want = sorted(BASE + NEW) if dimensions == "all" else BASE
            assert [r[0] for r in await conn.fetch(DIMENSIONS)] == want
            assert [r[0] for r in await conn.fetch(ALL_DIMENSIONS)] == [d for d in want if d != "version"]
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
                assert await conn.fetchval(UNSORTED_ARRAYS) == 0
                assert await conn.fetchval(MISPLACED_CELLS) == 0
                stats = await conn.fetchrow(VERSIONS_OF_BIGGEST)
                if dimensions == "all":
                    assert (
                        1 < stats["most"] <= shape_details.VERSION_SLOTS and stats["median"] < stats["most"]
                    )
        finally:
            await conn.close()
    finally:
        await seed.drop_database(admin_url, name)


async def check_series(conn: asyncpg.Connection, dimensions: seed.Dimensions) -> None:
    """The biggest package read back as the API reads it: every dimension sums to its overall count,
    versions of the biggest package are many."""
    names = Dictionary()
    package = shape.package_name(0)
    groups = {d: await series.series_groups(conn, names, package, d) for d in BASE + NEW}
    totals = {d: sum(n for _, days in g for _, n in days) for d, g in groups.items()}
    with_mirrors, without = (sum(n for _, n in days) for _, days in groups["overall"])
    assert totals["python_minor"] == totals["system"] == without
    if dimensions == "base":
        assert all(totals[d] == 0 for d in NEW)
        return
    assert totals["installer"] == with_mirrors > without
    assert totals["country"] == totals["file_type"] == totals["ci"] == totals["version"] == without
    assert totals["platform"] == totals["abi"] == without
    assert {c for c, _ in groups["installer"]} >= {"pip", "uv", "bandersnatch"}
    assert len(groups["country"]) > 20
    assert len(groups["version"]) >= 10
    # boto3 ships pure-Python wheels; numpy platform wheels of the stable ABI (index 12, 12 % 3 == 0),
    # pyyaml (index 14) wheels per CPython minor
    assert {c for c, _ in groups["platform"]} <= {"any", *SENTINELS} and {c for c, _ in groups["abi"]} <= {
        "none",
        *SENTINELS,
    }
    binary = {
        p: {d: {c for c, _ in await series.series_groups(conn, names, p, d)} for d in ("platform", "abi")}
        for p in ("numpy", "pyyaml")
    }
    assert {"manylinux x86_64", "Windows amd64", "macOS arm64"} <= binary["numpy"]["platform"]
    assert "any" not in binary["numpy"]["platform"] and binary["numpy"]["abi"] - SENTINELS == {"abi3"}
    assert {"cp311", "cp312"} <= binary["pyyaml"]["abi"] and "abi3" not in binary["pyyaml"]["abi"]
    every = {
        d: {c for c, _ in await series.series_groups(conn, names, "__all__", d)} for d in ("platform", "abi")
    }
    assert every["platform"] >= {"any", "sdist", "manylinux x86_64", "musllinux x86_64", "Windows amd64"}
    assert every["abi"] >= {"none", "sdist", "abi3", "cp312", "cp313", "cp313t"}
    assert every["platform"] <= set(shape_details.PLATFORMS) and every["abi"] <= set(shape_details.ABIS)


async def test_history_layout_reads_back_what_the_packed_layout_holds(servers: Servers) -> None:
    """The history writer (closed months compacted, open days as rows) holds exactly the counts the
    packed writer wrote for the same seed: read back through shared.series, every package and
    ``__all__``, every dimension, every day. Its storage report counts every package-day."""
    admin_url = servers.postgres_url
    days = 100  # two closed months compacted, the last ones open
    packed, history = seed.database_name("packed", PACKAGES), seed.database_name("history", PACKAGES)
    try:
        urls = {}
        for layout, name in (("packed", packed), ("history", history)):
            urls[layout] = await seed.create_migrated(admin_url, name, layout)  # type: ignore[arg-type]
            conn = await asyncpg.connect(urls[layout])
            try:
                books = await seed.fill(conn, layout, PACKAGES, days)  # type: ignore[arg-type]
            finally:
                await conn.close()
        old = await asyncpg.connect(urls["packed"])
        new = await asyncpg.connect(urls["history"])
        try:
            assert await new.fetchval("SELECT count(DISTINCT month) FROM downloads_months") >= 2
            want = {
                tuple(r)
                for r in await old.fetch(
                    "SELECT day, package, dimension, category, downloads FROM daily_downloads"
                )
            }
            names = Dictionary()
            got: set[tuple[object, ...]] = set()
            for package in [*shape.package_names(PACKAGES), "__all__"]:
                found = await series.series_window(new, names, package, None, None)
                got |= {
                    (p.day, package, d, p.category, p.downloads)
                    for d, points in found.items()
                    for p in points
                }
            assert got == want
            await check_series(new, "all")
        finally:
            await old.close()
            await new.close()
        report = await seed.storage(admin_url, history)
        assert report.layout == "history" and report.package_days == books.package_days
        assert report.column_bytes is not None and set(report.column_bytes) == {
            "overall",
            "cells",
            "details",
            "versions",
        }
    finally:
        await seed.drop_database(admin_url, packed)
        await seed.drop_database(admin_url, history)


def test_generator_is_deterministic_per_day() -> None:
    packages = shape.Packages.draw(PACKAGES, seed=3)
    a = shape.day_counts(packages, 3, 1, DAYS, 0)
    b = shape.day_counts(shape.Packages.draw(PACKAGES, seed=3), 3, 1, DAYS, 0)
    assert np.array_equal(a.breakdown, b.breakdown) and np.array_equal(a.with_mirrors, b.with_mirrors)
    details = shape_details.DetailParams.draw(PACKAGES, seed=3)
    c = shape.day_counts(packages, 3, 1, DAYS, 0, details)
    d = shape.day_counts(packages, 3, 1, DAYS, 0, shape_details.DetailParams.draw(PACKAGES, seed=3))
    assert c.details is not None and d.details is not None
    assert np.array_equal(c.details.counts, d.details.counts)
    assert np.array_equal(c.details.versions, d.details.versions)
    assert np.array_equal(c.breakdown, a.breakdown)  # the base counts do not depend on the details
    assert (c.rows() > a.rows())[c.exists].all()


def test_versions_follow_releases() -> None:
    """Version strings are shared across packages (four schemes); the newest release ramps up."""
    n, days = 400, 60
    packages, details = shape.Packages.draw(n, seed=5), shape_details.DetailParams.draw(n, seed=5)
    names = shape_details.version_names(details.max_release(days))
    scheme = np.arange(n) % shape_details.SCHEMES
    newest = []
    for index in range(days):
        day = shape.day_counts(packages, 5, index, days, index % 7, details)
        assert day.details is not None
        assert (day.details.versions.sum(axis=1) == day.without_mirrors).all()
        assert (day.details.versions[day.details.releases < 0] == 0).all()
        at, slot = np.nonzero(day.details.versions)
        used = {names[scheme[p]][day.details.releases[p, k]] for p, k in zip(at, slot, strict=True)}
        assert len(used) < len(at) / 4  # the same strings serve many packages
        newest.append(day.details.releases[:, 0])
    released = np.diff(np.array(newest), axis=0)
    assert set(np.unique(released)) <= {0, 1} and released.sum() > n  # everyone releases, one at a time
    assert shape.package_names(60)[:2] == ["boto3", "urllib3"] and shape.package_names(60)[-1] == "pkg-59"


@pytest.mark.parametrize(("dimensions", "target"), [("all", None), ("base", 7)])
async def test_seed_database_reports_storage(
    servers: Servers, dimensions: seed.Dimensions, target: int | None
) -> None:
    """The seed's figures: rows and bytes per package-day, and where the bytes of ``downloads`` are;
    ``--target 7`` is the packed layout before the details and versions arrays."""
    admin_url = servers.postgres_url
    name = seed.database_name("packed", PACKAGES)
    try:
        out = await seed.seed_database(
            admin_url, name, "packed", PACKAGES, DAYS, dimensions=dimensions, target=target
        )
    finally:
        await seed.drop_database(admin_url, name)
    assert out["dimensions"] == dimensions and out["migration"] == (target or seed.PACKED_LAST)
    assert out["rows_per_package_day"] == round(out["rows"] / out["package_days"], 2)
    assert 0 < out["downloads_bytes_per_package_day"] and 0 < out["bytes_per_package_day"]
    columns = out["column_bytes"]
    if dimensions == "all":
        assert set(columns) == {"cells", "details", "versions"}
        assert columns["details"] > columns["cells"] and columns["versions"] > 16
    else:
        assert set(columns) == {"cells"}


def test_platforms_and_abis_follow_file_types_and_minors() -> None:
    """platform and abi (the details array's last columns) split the file types as the synthetic
    source does, from a random stream of their own: every other column is what day_details alone
    draws."""
    assert shape_details.PY3_MINORS == shape.MINORS[shape.MINORS.index("3.5") :]
    n, days = 400, 30
    packages, details = shape.Packages.draw(n, seed=7), shape_details.DetailParams.draw(n, seed=7)
    keys = list(shape_details.DETAILS)
    column = {k: keys.index(k) for k in keys}
    binary = details.platforms.binary
    assert binary[shape.REAL_NAMES.index("numpy")] and not binary[shape.REAL_NAMES.index("boto3")]
    assert 0.15 < binary[shape_details.HEAD :].mean() < 0.25  # one in five below the head
    for index in (0, days - 1):
        day = shape.day_counts(packages, 7, index, days, 2, details)
        assert day.details is not None
        counts = day.details.counts
        alone = shape_details.day_details(
            details, np.random.default_rng([7, index, 1]), index, index / (days - 1), day.with_mirrors,
            day.without_mirrors,
        )  # fmt: skip
        drawn = shape_details.DRAWN_BEFORE_PLATFORMS
        assert np.array_equal(counts[:, :drawn], alone.counts[:, :drawn])
        assert not alone.counts[:, drawn:].any()
        for dimension in ("platform", "abi"):
            columns = [i for k, i in column.items() if k[0] == dimension]
            assert (counts[:, columns].sum(axis=1) == day.without_mirrors).all()
            for category, file_type in (("sdist", "sdist"), ("other", "bdist_egg")):
                got = counts[:, column[(dimension, category)]]
                assert np.array_equal(got, counts[:, column[("file_type", file_type)]])
        wheels = counts[:, column[("file_type", "bdist_wheel")]]
        assert np.array_equal(counts[:, column[("platform", "any")]], np.where(binary, 0, wheels))
        assert np.array_equal(counts[:, column[("abi", "none")]], np.where(binary, 0, wheels))
        cpython = [column[("abi", "cp" + m.replace(".", ""))] for m in shape_details.PY3_MINORS]
        stable = details.platforms.stable_abi
        assert not counts[stable][:, cpython].any()
        assert counts[binary & ~stable][:, cpython].sum() > 0
        assert counts[:, column[("abi", "cp313t")]].sum() > 0


TREND_ROWS = "SELECT day, package, downloads, ci FROM trend_days ORDER BY day, package"
LISTS = (
    "SELECT list, dimension, category, by, position, day, entries FROM discovery_lists ORDER BY 1, 2, 3, 4"
)


async def test_history_seed_builds_the_discovery_lists(servers: Servers) -> None:
    """The history seed leaves what the aggregator's completions leave: trend rows of the last 56
    days and every discovery list rebuilt on the last day. The days of compacted months get the
    rows record_day gives the same days written open (the seed with every day open), so the lists
    are the same too; and they are not empty."""
    admin_url = servers.postgres_url
    days = 100  # the trend window reaches into a compacted month
    names = {c: seed.database_name("history", PACKAGES) for c in (True, False)}
    found: dict[bool, tuple[list[tuple[object, ...]], list[tuple[object, ...]]]] = {}
    try:
        for compacted, name in names.items():
            url = await seed.create_migrated(admin_url, name, "history")
            conn = await asyncpg.connect(url)
            try:
                await seed.fill(conn, "history", PACKAGES, days, compacted=compacted)
                first_open = await conn.fetchval("SELECT min(day) FROM downloads_days")
                done = [r[0] for r in await conn.fetch("SELECT day FROM trend_days_done ORDER BY day")]
                assert done == shape.window(seed.END, 56)
                if compacted:
                    assert first_open > done[0]  # some trend days are of a compacted month
                found[compacted] = (
                    [tuple(r) for r in await conn.fetch(TREND_ROWS)],
                    [tuple(r) for r in await conn.fetch(LISTS)],
                )
            finally:
                await conn.close()
    finally:
        for name in names.values():
            await seed.drop_database(admin_url, name)
    trend, lists = found[True]
    assert trend == found[False][0] and lists == found[False][1]
    assert {r[0] for r in trend} == set(shape.window(seed.END, 56))
    assert any(r[3] > 0 for r in trend)  # CI downloads counted (the ci true cells)
    assert {r[5] for r in lists} == {seed.END}
    kinds = {r[0]: json.loads(str(r[6])) for r in lists if r[0] != "top"}
    assert set(kinds) == {"trending", "new"} and kinds["trending"]  # some of 20 packages grow
    top = {(r[1], r[2], r[3]) for r in lists if r[0] == "top"}
    assert {d for d, _, _ in top} == {"installer", "python_minor", "system", "file_type", "country", "ci"}
    assert ("installer", "uv", "share") in top
