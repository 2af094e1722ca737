"""services.web.ranges: parsing ?range/?lookback/?bin/?log, resolving a choice against the kept
history (clipping, bins by window length, what a page embeds) and the range bar's links."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.web import ranges
from services.web.ranges import Choice, History, RangeError, Window

D = dt.date
LAST = D(2026, 11, 24)
TWO_YEARS = History(LAST - dt.timedelta(days=729), LAST)  # 730 days kept
TEN_YEARS = History(D(2016, 11, 25), LAST)


def parse(**query: str) -> Choice:
    return ranges.parse(query, 36_600)


def test_parse_defaults_to_the_last_180_days_binned_by_length() -> None:
    assert parse() == Choice("180d", None, None, False)
    assert parse(range="1y", bin="month", log="1") == Choice("1y", None, "month", True)
    assert parse(lookback="45") == Choice("", 45, None, False)
    assert parse(range="", lookback="", bin="", log="0") == Choice()  # empty values are absent
    assert ranges.parse({"lookback": "180"}, 180).lookback == 180


@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        ({"range": "3y"}, "range", "range must be one of 30d, 90d, 180d, 1y, 2y, 5y, all"),
        ({"range": "<script>"}, "range", "range must be one of"),
        ({"bin": "year"}, "bin", "bin must be one of day, week, month"),
        ({"bin": "WEEK"}, "bin", "bin must be one of"),
        ({"log": "yes"}, "log", "log must be 1"),
        ({"lookback": "0"}, "lookback", "between 1 and 36600"),
        ({"lookback": "1e3"}, "lookback", "between 1 and 36600"),
        ({"lookback": "-1"}, "lookback", "between 1 and 36600"),
        ({"lookback": "9" * 50}, "lookback", "between 1 and 36600"),
        ({"lookback": "36601"}, "lookback", "between 1 and 36600"),
        ({"range": "1y", "lookback": "30"}, "range", "either range or lookback"),
    ],
)
def test_parse_rejects_with_the_parameter_named(query: dict[str, str], parameter: str, message: str) -> None:
    with pytest.raises(RangeError, match=message) as caught:
        ranges.parse(query, 36_600)
    assert caught.value.parameter == parameter


def test_a_retention_bounds_lookback() -> None:
    with pytest.raises(RangeError, match="between 1 and 180"):
        ranges.parse({"lookback": "181"}, 180)


def test_params_are_the_shortest_url_of_a_choice() -> None:
    assert Choice().params() == {}
    assert Choice("1y", bin="day", log=True).params() == {"range": "1y", "bin": "day", "log": "1"}
    assert Choice("1y", log=True).params(log=False) == {"range": "1y"}
    assert Choice("", 45).params() == {"lookback": "45"}


@pytest.mark.parametrize(
    ("days", "bin"), [(1, "day"), (180, "day"), (181, "week"), (365, "week"), (730, "week"), (731, "month")]
)
def test_auto_bin_by_window_length(days: int, bin: str) -> None:
    assert ranges.auto_bin(days) == bin


@pytest.mark.parametrize(
    ("range_", "days", "bin"),
    [("30d", 30, "day"), ("90d", 90, "day"), ("180d", 180, "day"), ("1y", 365, "week"), ("2y", 730, "week")],
)
def test_ranges_of_a_long_history(range_: str, days: int, bin: str) -> None:
    view = ranges.resolve(Choice(range_), TEN_YEARS)
    assert view.window == Window(LAST - dt.timedelta(days=days - 1), LAST)
    assert view.bin == bin and view.auto and not view.clipped


def test_five_years_and_all_are_monthly_on_a_long_history() -> None:
    five = ranges.resolve(Choice("5y"), TEN_YEARS)
    assert five.window.days == 1825 and five.bin == "month"
    every = ranges.resolve(Choice("all"), TEN_YEARS)
    assert every.window == Window(TEN_YEARS.first, LAST) and every.bin == "month"


def test_a_range_reaching_before_the_first_day_is_clipped_and_binned_by_what_it_covers() -> None:
    young = History(LAST - dt.timedelta(days=39), LAST)  # 40 days kept
    view = ranges.resolve(Choice("5y"), young)
    assert view.window == Window(young.first, LAST) and view.clipped
    assert view.bin == "day"  # 40 days: not two partial months
    assert not ranges.resolve(Choice("30d"), young).clipped
    assert not ranges.resolve(Choice("all"), young).clipped  # "all" never reaches before
    assert ranges.resolve(Choice("2y"), TWO_YEARS).clipped is False  # exactly what is kept


def test_daily_views_embed_at_least_180_days_binned_views_only_their_window() -> None:
    short = ranges.resolve(Choice("30d"), TEN_YEARS)
    assert short.window.days == 30 and short.embed.days == 180 and short.embed.end == LAST
    year_by_day = ranges.resolve(Choice("1y", bin="day"), TEN_YEARS)
    assert year_by_day.embed == year_by_day.window and year_by_day.embed.days == 365
    assert not year_by_day.auto
    weekly = ranges.resolve(Choice("2y"), TEN_YEARS)
    assert weekly.embed == weekly.window
    young = History(LAST - dt.timedelta(days=39), LAST)
    assert ranges.resolve(Choice("30d"), young).embed.days == 40  # never before the first day kept


def links(bar: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in bar["ranges"]}


def test_the_bar_offers_the_ranges_that_fit_and_all() -> None:
    bar = ranges.range_bar("/packages/p", {}, ranges.resolve(Choice(), TWO_YEARS))
    found = links(bar)
    assert list(found) == ["30d", "90d", "180d", "1y", "2y", "all"]  # 5y would draw what "all" draws
    assert [k for k, r in found.items() if r["current"]] == ["180d"]
    assert found["180d"]["href"] == "/packages/p"  # the default range has the shortest URL
    assert found["1y"]["href"] == "/packages/p?range=1y"
    assert found["30d"]["points"] == 30 and found["30d"]["bin"] == "day"
    assert found["1y"]["points"] is None and found["1y"]["bin"] == "week"
    assert found["all"]["aria"] == f"every day kept, since {TWO_YEARS.first.isoformat()}"
    assert bar["note"] == "" and all(r["note"] == "" for r in found.values())
    assert bar["first"] == TWO_YEARS.first.isoformat()
    bins = {b["bin"]: b for b in bar["bins"]}
    assert bins["day"]["current"] and bins["day"]["href"] == "/packages/p"
    assert bins["week"]["href"] == "/packages/p?bin=week"


def test_a_hidden_or_odd_current_choice_gets_its_link_and_says_what_it_covers() -> None:
    bar = ranges.range_bar("/packages/p", {}, ranges.resolve(Choice("5y", log=True), TWO_YEARS))
    found = links(bar)
    assert list(found) == ["30d", "90d", "180d", "1y", "2y", "5y", "all"]
    assert found["5y"]["current"] and found["5y"]["href"] == "/packages/p?range=5y&log=1"
    first = TWO_YEARS.first.isoformat()
    assert bar["note"] == f"5y reaches before the first day kept: showing the 730 days from {first}"
    assert found["5y"]["note"] == bar["note"] and found["1y"]["href"] == "/packages/p?range=1y&log=1"
    odd = links(ranges.range_bar("/compare", {"packages": "a,b"}, ranges.resolve(Choice("", 45), TWO_YEARS)))
    assert list(odd) == ["30d", "45d", "90d", "180d", "1y", "2y", "all"]
    assert odd["45d"]["current"] and odd["45d"]["href"] == "/compare?packages=a,b&lookback=45"
    assert odd["45d"]["points"] == 45 and odd["45d"]["csv"] == "lookback=45"
    # lookback=30 is the 30d button
    same = links(ranges.range_bar("/p", {}, ranges.resolve(Choice("", 30), TWO_YEARS)))
    assert [k for k, r in same.items() if r["current"]] == ["30d"] and "30d" in same


def test_bin_links_keep_the_range_and_name_a_bin_only_when_it_is_not_the_ranges_own() -> None:
    bar = ranges.range_bar("/p", {}, ranges.resolve(Choice("1y", bin="day", log=True), TWO_YEARS))
    bins = {b["bin"]: b for b in bar["bins"]}
    assert bins["day"]["current"] and bins["day"]["href"] == "/p?range=1y&bin=day&log=1"
    assert bins["week"]["href"] == "/p?range=1y&log=1"  # a year is weekly by itself
    assert bins["month"]["href"] == "/p?range=1y&bin=month&log=1"
    # range links drop the bin: each range gets its own
    assert links(bar)["2y"]["href"] == "/p?range=2y&log=1"
