"""The scheduler's and the backfill's choice of days, as pure functions, and the cron arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from services.ingest.config import IngestSettings
from services.ingest.schedule import day_range, last_closed_day, next_fire, plan_backfill, plan_days

UTC = dt.UTC
NOW = dt.datetime(2024, 5, 10, 1, 0, tzinfo=UTC)
D = dt.date


def window(last: dt.date, retention: int) -> set[dt.date]:
    return {last - dt.timedelta(days=k) for k in range(retention + 1)}


def test_last_closed_day_is_yesterday_in_utc() -> None:
    assert last_closed_day(NOW) == D(2024, 5, 9)
    assert last_closed_day(dt.datetime(2024, 5, 10, 0, 0, tzinfo=UTC)) == D(2024, 5, 9)
    # 23:30 on the 9th in New York is already the 10th in UTC
    new_york = dt.timezone(dt.timedelta(hours=-4))
    assert last_closed_day(dt.datetime(2024, 5, 9, 23, 30, tzinfo=new_york)) == D(2024, 5, 9)


def test_everything_complete_means_last_closed_day_and_resettle_days() -> None:
    complete = window(D(2024, 5, 9), 180)
    assert plan_days(NOW, gap_days=180, resettle_days=2, complete=complete) == [
        D(2024, 5, 9),
        D(2024, 5, 8),
        D(2024, 5, 7),
    ]
    assert plan_days(NOW, gap_days=180, resettle_days=0, complete=complete) == [D(2024, 5, 9)]


def test_missing_days_inside_the_window_are_filled_newest_first() -> None:
    complete = window(D(2024, 5, 9), 10) - {D(2024, 5, 1), D(2024, 4, 29)}
    assert plan_days(NOW, gap_days=10, resettle_days=1, complete=complete) == [
        D(2024, 5, 9),
        D(2024, 5, 8),
        D(2024, 5, 1),
        D(2024, 4, 29),
    ]


def test_a_fresh_install_fills_the_whole_window_and_nothing_older() -> None:
    days = plan_days(NOW, gap_days=180, resettle_days=2, complete=set())
    assert len(days) == 181
    assert days[0] == D(2024, 5, 9) and days[-1] == D(2024, 5, 9) - dt.timedelta(days=180)
    assert days == sorted(days, reverse=True)
    assert D(2024, 5, 10) not in days  # today is not closed


def test_complete_days_outside_the_window_are_ignored() -> None:
    old = {D(2020, 1, 1)}
    assert len(plan_days(NOW, gap_days=5, resettle_days=2, complete=old)) == 6


def test_an_unreadable_record_plans_only_the_recent_days() -> None:
    assert plan_days(NOW, gap_days=180, resettle_days=2, complete=None) == [
        D(2024, 5, 9),
        D(2024, 5, 8),
        D(2024, 5, 7),
    ]


def test_next_fire_follows_the_cron_schedule_in_utc() -> None:
    assert next_fire("0 1 * * *", dt.datetime(2024, 5, 10, 0, 59, tzinfo=UTC)) == dt.datetime(
        2024, 5, 10, 1, 0, tzinfo=UTC
    )
    assert next_fire("0 1 * * *", NOW) == dt.datetime(2024, 5, 11, 1, 0, tzinfo=UTC)
    assert next_fire("*/15 * * * *", dt.datetime(2024, 5, 10, 1, 7, tzinfo=UTC)).minute == 15
    with pytest.raises(ValueError, match="invalid cron"):
        next_fire("every day", NOW)


def test_day_range_is_inclusive_and_refuses_reversed_ranges() -> None:
    assert day_range(D(2024, 2, 28), D(2024, 3, 1)) == [D(2024, 2, 28), D(2024, 2, 29), D(2024, 3, 1)]
    assert day_range(D(2024, 1, 1), D(2024, 1, 1)) == [D(2024, 1, 1)]
    with pytest.raises(ValueError, match="before start"):
        day_range(D(2024, 1, 2), D(2024, 1, 1))


def test_the_gap_window_is_its_own_setting_within_retention() -> None:
    assert IngestSettings().gap_days == 180  # RETENTION_DAYS unset keeps everything; the gap stays 180
    assert IngestSettings(ingest_gap_days=30).gap_days == 30
    assert IngestSettings(ingest_gap_days=30, retention_days=10).gap_days == 10  # never beyond retention
    assert IngestSettings(ingest_gap_days=400, retention_days=730).gap_days == 400
    with pytest.raises(ValueError):
        IngestSettings(ingest_gap_days=-1)


def test_a_backfill_goes_newest_first_and_leaves_out_the_complete_days() -> None:
    last = D(2024, 5, 9)
    plan = plan_backfill(
        D(2024, 5, 1), D(2024, 5, 6), last_closed=last, complete={D(2024, 5, 5), D(2024, 5, 2)}
    )
    assert plan.days == [D(2024, 5, 6), D(2024, 5, 4), D(2024, 5, 3), D(2024, 5, 1)]
    assert (plan.complete, plan.before_retention) == (2, 0)
    everything = {D(2024, 5, 1) + dt.timedelta(days=k) for k in range(6)}
    assert plan_backfill(D(2024, 5, 1), D(2024, 5, 6), last_closed=last, complete=everything).days == []


def test_a_backfill_skips_the_days_retention_would_drop() -> None:
    plan = plan_backfill(D(2024, 1, 1), D(2024, 5, 9), last_closed=D(2024, 5, 9), retention_days=3)
    assert plan.days == [D(2024, 5, 9), D(2024, 5, 8), D(2024, 5, 7), D(2024, 5, 6)]
    assert plan.before_retention == (D(2024, 5, 6) - D(2024, 1, 1)).days
    years = plan_backfill(D(2016, 1, 22), D(2024, 5, 9), last_closed=D(2024, 5, 9))
    assert len(years.days) == (D(2024, 5, 9) - D(2016, 1, 22)).days + 1 and years.days[0] == D(2024, 5, 9)


def test_a_backfill_refuses_days_that_are_not_closed_or_a_reversed_range() -> None:
    with pytest.raises(ValueError, match="not a closed UTC day"):
        plan_backfill(D(2024, 5, 1), D(2024, 5, 10), last_closed=D(2024, 5, 9))
    with pytest.raises(ValueError, match="before start"):
        plan_backfill(D(2024, 5, 2), D(2024, 5, 1), last_closed=D(2024, 5, 9))
