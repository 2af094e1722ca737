import datetime as dt

import asyncpg

from shared import rollups, series
from shared.db.layout import Dictionary
from tests.support.seed import package_rows, seed, with_all

END = dt.date(2026, 11, 24)


async def test_read_queries_over_seeded_rows(db: asyncpg.Pool) -> None:
    rows = with_all(package_rows("requests", 100, END, 40) + package_rows("req_x", 5, END, 3))
    rows += [(END, "django", "overall", "without_mirrors", 1), (END, "django", "overall", "with_mirrors", 1)]
    assert await seed(db, rows) == END
    assert await rollups.last_complete_day(db) == END
    assert await rollups.package_exists(db, "requests")
    assert await rollups.package_exists(db, "__all__")
    assert not await rollups.package_exists(db, "nope")
    recent = await rollups.recent(db, "requests")
    assert recent["day"] == 139
    assert recent["week"] == sum(range(133, 140))
    assert recent["month"] == sum(range(110, 140))
    assert await rollups.recent(db, "nope") == {"day": 0, "week": 0, "month": 0}
    names = Dictionary()
    points = series.flatten(
        await series.series_groups(
            db, names, "requests", "overall", "with_mirrors", start=END - dt.timedelta(days=1)
        )
    )
    assert [(p.day, p.downloads) for p in points] == [(END - dt.timedelta(days=1), 148), (END, 149)]
    minors = series.flatten(await series.series_groups(db, names, "requests", "python_minor"))
    assert [p.category for p in minors] == sorted(p.category for p in minors)
    assert {(p.category, p.day, p.downloads) for p in minors} == {
        (c, d, n) for d, pkg, dim, c, n in rows if pkg == "requests" and dim == "python_minor"
    }
    top = await rollups.top(db, "month", 2)
    assert top[0][0] == "requests" and all(p != "__all__" for p, _ in top)
    assert await rollups.count_packages(db) == 3


async def test_search_prefix_first_and_wildcards_literal(db: asyncpg.Pool) -> None:
    rows = [
        (END, p, "overall", "with_mirrors", 1)
        for p in ("req", "requests", "requests-oauthlib", "grequests", "a-b")
    ]
    await seed(db, rows)
    found = await rollups.search(db, "req")
    assert found[:3] == ["req", "requests", "requests-oauthlib"]
    assert "grequests" in found
    assert await rollups.search(db, "%") == []
    assert await rollups.search(db, "_") == []
