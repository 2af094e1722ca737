"""A package-day is one row, replaced as a whole."""

from __future__ import annotations

import datetime as dt

import asyncpg

from shared.events import Counts, PackageDay
from tests.integration.aggregator.helpers import stored_rows

DAY = dt.date(2024, 3, 10)


def package_day(run_id: str, minors: dict[str, int]) -> PackageDay:
    total = sum(minors.values())
    return PackageDay(
        day=DAY,
        package="pkg",
        counts=Counts(
            overall={"with_mirrors": total, "without_mirrors": total},
            python_minor=minors,
            system={"Linux": total},
        ),
        run_id=run_id,
        source="test",
    )


async def test_a_category_that_vanishes_on_reingest_leaves_no_trace(new_processor, db: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    processor = new_processor()
    await processor.write([(package_day("first", {"3.12": 5, "2.7": 3}), 1)])
    assert ("pkg", "python_minor", "2.7", 3) in await stored_rows(db, DAY)
    written = await processor.write([(package_day("second", {"3.12": 8}), 2)])
    assert written.applied == 1 and written.rows == 4
    assert await stored_rows(db, DAY) == {
        ("pkg", "overall", "with_mirrors", 8),
        ("pkg", "overall", "without_mirrors", 8),
        ("pkg", "python_minor", "3.12", 8),
        ("pkg", "system", "Linux", 8),
    }
    assert await db.fetchval("SELECT count(*) FROM downloads_days WHERE day = $1", DAY) == 1
    # the older run redelivered afterwards changes nothing
    stale = await processor.write([(package_day("first", {"3.12": 5, "2.7": 3}), 1)])
    assert stale.applied == 0 and stale.stale == 1
    assert ("pkg", "python_minor", "2.7", 3) not in await stored_rows(db, DAY)


def with_details(run_id: str, versions: dict[str, int], countries: dict[str, int]) -> PackageDay:
    total = sum(versions.values())
    return PackageDay(
        day=DAY,
        package="pkg",
        counts=Counts(
            overall={"with_mirrors": total + 2, "without_mirrors": total},
            version=versions,
            installer={"pip": total, "bandersnatch": 2},
            country=countries,
            ci={"true": total},
        ),
        run_id=run_id,
        source="test",
    )


async def test_versions_and_details_are_replaced_with_the_row(new_processor, db: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    processor = new_processor()
    await processor.write([(with_details("first", {"1.0": 4, "1.1": 6}, {"US": 7, "DE": 3}), 1)])
    stored = await stored_rows(db, DAY)
    assert {
        ("pkg", "version", "1.0", 4),
        ("pkg", "country", "DE", 3),
        ("pkg", "installer", "bandersnatch", 2),
    } <= stored
    row = await db.fetchrow(
        "SELECT cardinality(cells) c, cardinality(details) d, cardinality(versions) v FROM downloads_days"
    )
    assert (row["c"], row["d"], row["v"]) == (0, 5, 2)  # each dimension in its own array
    # re-ingested without version 1.0 and without DE: neither leaves a trace
    await processor.write([(with_details("second", {"1.1": 9}, {"US": 9}), 2)])
    assert await stored_rows(db, DAY) == {
        ("pkg", "overall", "with_mirrors", 11),
        ("pkg", "overall", "without_mirrors", 9),
        ("pkg", "version", "1.1", 9),
        ("pkg", "installer", "pip", 9),
        ("pkg", "installer", "bandersnatch", 2),
        ("pkg", "country", "US", 9),
        ("pkg", "ci", "true", 9),
    }
