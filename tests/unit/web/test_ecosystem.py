"""services.web.ecosystem: shares of __all__'s dimensions, and the "what changed" sentences."""

from __future__ import annotations

import datetime as dt

import pytest

from services.ingest.sources.synthetic import SyntheticSource
from services.web import ecosystem
from services.web.ranges import Window
from shared.series import Point

LAST = dt.date(2026, 11, 24)
DAYS = ecosystem.SENTENCE_DAYS


def day(i: int) -> dt.date:
    """Day ``i`` of the sentences' days (0 is the oldest, DAYS - 1 is LAST)."""
    return LAST - dt.timedelta(days=DAYS - 1 - i)


def steady(category: str, per_day: int) -> list[Point]:
    return [Point(category, day(i), per_day) for i in range(DAYS)]


def moving(category: str, then: int, now: int) -> list[Point]:
    """``then`` a day in the "then" week, ``now`` a day in the "now" week (and between)."""
    return [Point(category, day(i), then if i < DAYS - ecosystem.WEEK else now) for i in range(DAYS)]


def test_shares_are_percentages_of_each_bin() -> None:
    assert ecosystem.shares({"a": [1, 0, 3], "b": [3, 0, 1]}) == {
        "a": [25.0, 0.0, 75.0],
        "b": [75.0, 0.0, 25.0],
    }
    assert ecosystem.shares({"a": [1], "b": [2]}) == {"a": [33.33], "b": [66.67]}
    assert ecosystem.shares({}) == {}


def test_share_charts_leave_out_mirrors_and_fold_the_tail_into_other() -> None:
    win = Window(day(0), LAST)
    points = {
        "installer": steady("pip", 60) + steady("uv", 40) + steady("bandersnatch", 900) + steady("null", 50),
        "country": [p for k in range(12) for p in steady(f"C{k:02}", k + 1)],
    }
    data = ecosystem.share_charts(points, win, "day")
    by_id = {c["id"]: c for c in data["charts"]}
    assert [c["id"] for c in data["charts"]] == [s.id for s in ecosystem.ECOSYSTEM]
    installer = {s["category"]: s["values"] for s in by_id["installer"]["series"]}
    assert installer == {"pip": [60.0] * DAYS, "uv": [40.0] * DAYS}  # mirrors and null left out
    assert list(installer) == ["pip", "uv"]  # the largest at the bottom of the stack
    assert by_id["installer"]["unit"] == "%" and by_id["installer"]["kind"] == "stacked"
    countries = [s["category"] for s in by_id["country"]["series"]]
    assert countries == [f"C{k:02}" for k in range(11, 1, -1)] + ["other"]  # the largest first
    total = sum(range(1, 13))
    other = next(s for s in by_id["country"]["series"] if s["category"] == "other")
    assert other["values"][0] == round(100 * 3 / total, 2)
    for chart in data["charts"]:  # every bin of every chart sums to 100 (or has no downloads)
        for i in range(len(data["dates"])):
            column = sum(s["values"][i] for s in chart["series"])
            assert not chart["series"] or column == pytest.approx(100, abs=0.06)


def test_python_versions_stack_in_version_order_with_unknown_last() -> None:
    win = Window(day(0), LAST)
    points = {"python_minor": steady("null", 50) + steady("3.9", 1) + steady("3.12", 5) + steady("3.10", 9)}
    chart = ecosystem.share_charts(points, win, "day")["charts"][1]
    assert [s["category"] for s in chart["series"]] == ["3.9", "3.10", "3.12", "null"]
    assert [s["name"] for s in chart["series"]][-1] == "unknown"


def test_share_charts_by_week_keep_the_partial_bins() -> None:
    win = Window(day(0), LAST)
    data = ecosystem.share_charts({"system": steady("Linux", 3) + steady("Windows", 1)}, win, "week")
    system = next(c for c in data["charts"] if c["id"] == "system")
    assert {s["category"]: s["values"][0] for s in system["series"]} == {"Linux": 75.0, "Windows": 25.0}
    assert data["bin"] == "week" and data["partial"]  # 37 days are not whole weeks


def test_a_rise_and_a_passing_are_said_with_their_shares() -> None:
    points = {"installer": moving("pip", 70, 45) + moving("uv", 30, 55) + steady("bandersnatch", 1000)}
    assert ecosystem.changes(points, LAST) == [
        "uv passed pip: 55% of installs against 45%.",
        "uv's share of installs rose from 30% to 55%.",
    ]


def test_a_fall_is_said_when_it_is_the_biggest_move() -> None:
    points = {"system": moving("Linux", 80, 70) + moving("Windows", 15, 18) + moving("Darwin", 5, 12)}
    assert ecosystem.changes(points, LAST) == ["Linux's share of downloads fell from 80% to 70%."]


def test_moves_below_the_threshold_and_small_passings_are_not_said() -> None:
    # 0.9 points; C passes D below MIN_SHARE; "other" and unknown move a lot but are never named
    points = {
        "python_minor": moving("3.12", 491, 500) + moving("3.13", 509, 500) + moving("null", 0, 0),
        "country": moving("US", 900, 900) + moving("C", 3, 4) + moving("D", 4, 3) + moving("other", 93, 93),
        "ci": moving("null", 100, 50) + moving("true", 900, 950),
    }
    said = ecosystem.changes(points, LAST)
    assert said == ["The share of downloads in CI rose from 90% to 95%."]
    points["python_minor"] = moving("3.12", 490, 500) + moving("3.13", 510, 500)  # 1 point exactly
    assert "Python 3.12's share of downloads rose from 49% to 50%." in ecosystem.changes(points, LAST)


def test_nothing_moved_is_said_once_and_an_empty_week_says_nothing() -> None:
    quiet = {"system": steady("Linux", 9) + steady("Windows", 1)}
    assert ecosystem.changes(quiet, LAST) == [
        "No share moved by 1 percentage point or more in the last 30 days (unknown and “other” left aside)."
    ]
    recent_only = {"system": [Point("Linux", LAST, 5)]}  # nothing in the "then" week: no comparison
    assert len(ecosystem.changes(recent_only, LAST)) == 1


def test_passings_come_first_and_the_sentences_are_capped() -> None:
    points: dict[str, list[Point]] = {}
    for share in ecosystem.ECOSYSTEM:
        points[share.id] = moving("a", 40, 60) + moving("b", 60, 40)
    said = ecosystem.changes(points, LAST)
    assert len(said) == ecosystem.MAX_SENTENCES
    assert all(" passed " in s for s in said[:5])  # five dimensions can pass (not CI)
    assert " rose from 40% to 60%" in said[5]


@pytest.mark.parametrize(
    ("a", "b", "shown"),
    [
        (18.2, 24.4, ("18%", "24%")),
        (3.25, 4.5, ("3.2%", "4.5%")),
        (17.5, 18.5, ("17.5%", "18.5%")),  # both round to 18%: tenths instead
        (9.96, 12.0, ("10.0%", "12%")),
    ],
)
def test_percent_pair(a: float, b: float, shown: tuple[str, str]) -> None:
    assert ecosystem.percent_pair(a, b) == shown


def test_the_synthetic_source_shows_uv_still_rising_in_the_last_30_days() -> None:
    """What ``make run``'s ecosystem page says: __all__ of the synthetic packages (its weeks only)."""
    source = SyntheticSource(300, seed=0)
    points: dict[str, list[Point]] = {}
    for offset in (*range(ecosystem.WEEK), *range(30, 30 + ecosystem.WEEK)):
        when = LAST - dt.timedelta(days=offset)
        sums: dict[tuple[str, str], int] = {}
        for _package, dimension, category, n in source.expected_rows(when):
            sums[dimension, category] = sums.get((dimension, category), 0) + n
        for (dimension, category), n in sums.items():
            points.setdefault(dimension, []).append(Point(category, when, n))
    said = ecosystem.changes(points, LAST)
    assert any(s.startswith("uv's share of installs rose from ") for s in said), said
    now = ecosystem.week_shares(points["installer"], ecosystem.ECOSYSTEM[0], LAST)
    assert now["uv"] > now["pip"]  # uv passed pip in the summer of 2026
