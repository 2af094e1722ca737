"""The discovery lists through the real aggregator: package-days of 60 days published on JetStream
as ingest publishes them, completed by the consumer, and the lists it stores (discovery_lists).

The data is built so each ranking is known: every trending edge (the minimum size, the CI burst
by gain and by share, each with its twin just inside), new packages on either side of the 90-day
edge, and top lists by uv whose order by downloads and by share differ. A corrected run of one
day converges the lists; completing the same days again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import asyncpg
from nats.js import JetStreamContext

from services.aggregator.consumer import Processor
from shared.events import Counts, PackageDay, Subjects
from tests.integration.aggregator.helpers import publish_run, running_consumer
from tests.support.wait import wait_until

D = dt.date(2026, 6, 30)
EARLIER = D - dt.timedelta(days=40)  # inside D-55..D-28
RECENT = D - dt.timedelta(days=10)  # inside D-27..D


def day(n: int) -> dt.date:
    return D - dt.timedelta(days=n)


def counts(without: int, ci: int = 0, installer: dict[str, int] | None = None) -> Counts:
    return Counts(
        overall={"with_mirrors": without, "without_mirrors": without},
        installer=installer or {"pip": without},
        ci={k: v for k, v in {"true": ci, "false": without - ci}.items() if v},
    )


#: package -> (earlier window total, its CI, recent window total, its CI); each total on one day.
WINDOWS = {
    "fast": (1400, 0, 5600, 0),  # growth 3.0: first
    "riser": (2800, 0, 5600, 0),  # growth 1.0, more downloads than the CI twins: before them
    "at-min": (1000, 0, 1500, 0),  # exactly the minimum size: kept (growth 0.5)
    "below-min": (999, 0, 9990, 0),  # one under it: left out whatever its growth
    "ci-gain-half": (2000, 1000, 3000, 1500),  # half the gain is CI: kept (growth 0.5)
    "ci-gain-over": (2000, 1000, 3000, 1501),  # a download more: a CI burst
    "ci-share-25": (1000, 0, 4000, 1000),  # CI share up exactly 25 points: kept (growth 3.0)
    "ci-share-over": (1000, 0, 4000, 1001),  # just over 25 points (a third of the gain): a burst
    "shrinking": (5000, 0, 4000, 0),  # falls: not trending
}
#: Packages first seen on a given number of days before D (the others on day 120).
FIRST_SEEN = {"edge-new": 89, "edge-old": 90, "newbie": 20}
STEADY = 100  # "steady", every day of the 56, so every day has a package-day


def plan() -> dict[dt.date, dict[str, Counts]]:
    days: dict[dt.date, dict[str, Counts]] = {}
    for n in range(56):
        days.setdefault(day(n), {})["steady"] = counts(STEADY, installer={"pip": 60, "uv": 40})
    old = days.setdefault(day(120), {})
    for package in [*WINDOWS, "steady"]:
        old[package] = counts(5)
    for package, (e, eci, r, rci) in WINDOWS.items():
        days[EARLIER][package] = counts(e, eci)
        days[RECENT][package] = counts(r, rci)
    # uv: riser has the most uv downloads, fast the largest uv share.
    days[RECENT]["riser"] = counts(5600, installer={"pip": 4600, "uv": 1000})
    days[RECENT]["fast"] = counts(5600, installer={"pip": 1400, "uv": 4200})
    for package, n in FIRST_SEEN.items():
        days.setdefault(day(n), {})[package] = counts(1)
    days[day(5)]["edge-new"] = counts(300)
    days[day(5)]["edge-old"] = counts(400)
    days[day(3)]["newbie"] = counts(50)
    return days


def events_of(when: dt.date, packages: dict[str, Counts], run_id: str) -> list[PackageDay]:
    return [
        PackageDay(day=when, package=p, counts=c, run_id=run_id, source="test")
        for p, c in sorted(packages.items())
    ]


async def lists(db: asyncpg.Pool) -> dict[tuple[str, str, str, str], Any]:
    rows = await db.fetch("SELECT list, dimension, category, by, day, entries FROM discovery_lists")
    return {
        (r["list"], r["dimension"], r["category"], r["by"]): (r["day"], json.loads(r["entries"]))
        for r in rows
    }


async def publish_all(js: JetStreamContext, subjects: Subjects, run: str) -> None:
    for when, packages in sorted(plan().items()):
        await publish_run(js, subjects, events_of(when, packages, f"{run}-{when}"))


async def lists_on(
    db: asyncpg.Pool, anchor: dt.date, days: int | None = None
) -> dict[tuple[str, str, str, str], Any] | None:
    """The lists once they are anchored on ``anchor``, nothing is deferred and ``days`` days (every
    day of the plan by default) are complete: a day completed late (a manifest retried) rebuilds them."""
    if await db.fetchval("SELECT count(*) FROM ingest_days") != (len(plan()) if days is None else days):
        return None
    found = await lists(db)
    trending = found.get(("trending", "", "", ""))
    state = await db.fetchval("SELECT stale FROM recent_state")
    return found if trending is not None and trending[0] == anchor and state is False else None


async def test_lists_through_the_aggregator(
    new_processor: Callable[..., Processor], js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool
) -> None:
    async with running_consumer(new_processor(batch_size=50)):
        await publish_all(js, subjects, "a")
        found = await wait_until(lambda: lists_on(db, D), timeout=90, what="the lists on D")

    trending = [e["package"] for e in found[("trending", "", "", "")][1]]
    assert trending == ["fast", "ci-share-25", "riser", "ci-gain-half", "at-min"]
    first = found[("trending", "", "", "")][1][0]
    assert first == {
        "rank": 1,
        "package": "fast",
        "downloads_earlier": 1400,
        "downloads_recent": 5600,
        "growth": 3.0,
        "ci_earlier": 0,
        "ci_recent": 0,
    }

    new = found[("new", "", "", "")][1]
    assert [(e["package"], e["first_day"], e["downloads_recent"]) for e in new] == [
        ("edge-new", day(89).isoformat(), 300),
        ("newbie", day(20).isoformat(), 51),
    ]

    by_downloads = [(e["package"], e["downloads"]) for e in found[("top", "installer", "uv", "downloads")][1]]
    assert by_downloads == [("fast", 4200), ("steady", 40 * 28), ("riser", 1000)]
    by_share = [(e["package"], e["share"]) for e in found[("top", "installer", "uv", "share")][1]]
    assert by_share == [("fast", 0.75), ("steady", 0.4), ("riser", round(1000 / 5600, 4))]
    pip = found[("top", "installer", "pip", "downloads")][1]
    assert (pip[0]["package"], pip[0]["downloads"], pip[0]["share"]) == ("below-min", 9990, 1.0)
    assert ("top", "ci", "true", "downloads") in found
    assert all(e["package"] != "__all__" for _, entries in found.values() for e in entries)

    # Every day completed again by new runs of the same numbers: the same lists.
    async def all_redone() -> bool:
        done = await db.fetchval("SELECT count(*) FROM ingest_days WHERE run_id LIKE 'r-%'")
        return done == len(plan()) and await lists_on(db, D) is not None

    async with running_consumer(new_processor(batch_size=50)):
        await publish_all(js, subjects, "r")
        await wait_until(all_redone, timeout=90, what="every day completed again")
    assert await lists(db) == found

    # A corrected run of RECENT without "fast": it leaves the trending list, the rest stays.
    corrected = dict(plan()[RECENT])
    del corrected["fast"]

    async def fast_gone() -> bool:
        got = await lists(db)
        names = [e["package"] for e in got[("trending", "", "", "")][1]]
        return "fast" not in names and not await db.fetchval("SELECT stale FROM recent_state")

    async with running_consumer(new_processor(batch_size=50)):
        await publish_run(js, subjects, events_of(RECENT, corrected, "b-fix"))
        await wait_until(fast_gone, what="the corrected day's lists")
    trending = [e["package"] for e in (await lists(db))[("trending", "", "", "")][1]]
    assert trending == ["ci-share-25", "riser", "ci-gain-half", "at-min"]


async def test_no_trending_before_56_days(
    new_processor: Callable[..., Processor], js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool
) -> None:
    """55 complete days: nothing is compared with a partial window, and nothing is called new."""
    days = {when: p for when, p in plan().items() if day(55) < when}
    async with running_consumer(new_processor(batch_size=50)):
        for when, packages in sorted(days.items()):
            await publish_run(js, subjects, events_of(when, packages, f"c-{when}"))
        found = await wait_until(lambda: lists_on(db, D, len(days)), timeout=60, what="the lists on D")
    assert found[("trending", "", "", "")][1] == []
    assert found[("new", "", "", "")][1] == []
    assert found[("top", "installer", "uv", "downloads")][1]  # the top lists need 28 days only

    # A backfilled old day (only "steady" on it): the history now reaches back 90 days, so "new"
    # is told, and "steady" (now first seen on it) is not new.
    async def new_listed() -> list[str]:
        got = (await lists(db)).get(("new", "", "", ""))
        return (
            [e["package"] for e in got[1]]
            if got and not await db.fetchval("SELECT stale FROM recent_state")
            else []
        )

    async with running_consumer(new_processor(batch_size=50)):
        await publish_run(js, subjects, events_of(day(120), {"steady": counts(5)}, "c-old"))
        new = await wait_until(new_listed, what="the new list after the backfill")
    assert set(new) == {*WINDOWS, "edge-new", "edge-old", "newbie"}
