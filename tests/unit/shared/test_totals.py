"""shared.totals: periods anchored on the last complete day, all time, the first day."""

from __future__ import annotations

import datetime as dt

from shared.totals import totals_of

D = dt.date(2026, 12, 3)


def test_periods_end_on_the_anchor() -> None:
    days = [(D - dt.timedelta(days=k), 1) for k in range(400)]  # one download a day for 400 days
    days.append((D + dt.timedelta(days=1), 1000))  # not complete yet: not counted
    totals = totals_of(days, D)
    assert (totals.last_day, totals.last_week, totals.last_month, totals.last_year) == (1, 7, 30, 365)
    assert totals.all_time == 400
    assert totals.first_day == D - dt.timedelta(days=399)
    assert totals.data()["first_day"] == (D - dt.timedelta(days=399)).isoformat()


def test_nothing_on_record() -> None:
    totals = totals_of([], D)
    assert totals.all_time == 0 and totals.first_day is None
    assert totals_of([(D, 5)], None).all_time == 0  # no complete day yet
