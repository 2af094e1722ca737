"""shared.bins: bins named by their first day, sums per bin, partial first and last bins."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.bins import bin_days, bin_last, bin_start, binned, is_partial

D = dt.date


@pytest.mark.parametrize(
    ("day", "bin", "start", "last"),
    [
        (D(2026, 12, 3), "day", D(2026, 12, 3), D(2026, 12, 3)),
        (D(2026, 12, 3), "week", D(2026, 11, 30), D(2026, 12, 6)),  # Thursday -> Monday..Sunday
        (D(2026, 11, 30), "week", D(2026, 11, 30), D(2026, 12, 6)),
        (D(2026, 12, 3), "month", D(2026, 12, 1), D(2026, 12, 31)),
        (D(2024, 2, 29), "month", D(2024, 2, 1), D(2024, 2, 29)),
        (D(2026, 12, 3), "year", D(2026, 1, 1), D(2026, 12, 31)),
    ],
)
def test_bin_bounds(day: dt.date, bin: str, start: dt.date, last: dt.date) -> None:
    assert bin_start(day, bin) == start  # type: ignore[arg-type]
    assert bin_last(start, bin) == last  # type: ignore[arg-type]


def test_sums_per_bin_skip_empty_bins() -> None:
    days = [(D(2026, 1, 30), 1), (D(2026, 1, 31), 2), (D(2026, 3, 1), 4), (D(2026, 3, 31), 8)]
    assert bin_days(days, "month") == [(D(2026, 1, 1), 3), (D(2026, 3, 1), 12)]
    assert bin_days(days, "year") == [(D(2026, 1, 1), 15)]
    assert bin_days(days, "day") == days
    assert bin_days([], "week") == []


def test_partial_bins_are_those_the_window_does_not_cover() -> None:
    first, last = D(2026, 1, 15), D(2026, 3, 31)
    assert is_partial(D(2026, 1, 1), "month", first, last)
    assert not is_partial(D(2026, 2, 1), "month", first, last)
    assert not is_partial(D(2026, 3, 1), "month", first, last)
    assert is_partial(D(2026, 1, 1), "year", first, last)
    groups = [
        ("a", [(D(2026, 1, 20), 5), (D(2026, 2, 2), 6), (D(2026, 3, 30), 7)]),
        ("b", [(D(2026, 2, 3), 1)]),
    ]
    assert binned(groups, "month", first, last) == [
        ("a", [(D(2026, 1, 1), 5, True), (D(2026, 2, 1), 6, False), (D(2026, 3, 1), 7, False)]),
        ("b", [(D(2026, 2, 1), 1, False)]),
    ]
    # A day bin is never partial, whatever the window.
    assert binned(groups[1:], "day", D(2026, 2, 3), D(2026, 2, 3)) == [("b", [(D(2026, 2, 3), 1, False)])]
