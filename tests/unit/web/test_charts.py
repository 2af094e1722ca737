"""services.web.charts: zero-filled series by day, week and month, partial bins, chart JSON, CSV."""

import datetime as dt

import pytest

from services.web import charts
from services.web.ranges import Window
from shared.series import Point
from tests.support.matrices import charts_of

END = dt.date(2026, 3, 31)


def test_zero_fill_fills_missing_days_and_drops_outside_window() -> None:
    win = Window(dt.date(2026, 1, 1), dt.date(2026, 1, 4))
    points = [
        Point("3.10", dt.date(2026, 1, 2), 5),
        Point("3.9", dt.date(2026, 1, 4), 2),
        Point("null", dt.date(2026, 1, 1), 1),
        Point("3.10", dt.date(2025, 12, 31), 99),  # before the window
        Point("3.10", dt.date(2026, 1, 5), 99),  # after it
    ]
    assert charts.zero_fill(points, win) == {"3.9": [0, 0, 0, 2], "3.10": [0, 5, 0, 0], "null": [1, 0, 0, 0]}
    assert charts.zero_fill([], win) == {}


def test_category_order() -> None:
    cats = ["null", "other", "Windows", "3.10", "2.7", "Darwin", "3.9", "Linux"]
    assert sorted(cats, key=charts.category_key) == [
        "2.7",
        "3.9",
        "3.10",
        "Darwin",
        "Linux",
        "Windows",
        "other",
        "null",
    ]


def test_package_charts_shape_and_overall_always_has_both_lines() -> None:
    win = Window(dt.date(2026, 1, 1), dt.date(2026, 1, 3))
    data = charts_of({"overall": [Point("with_mirrors", dt.date(2026, 1, 3), 4)]}, win)
    assert data["dates"] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert [c["id"] for c in data["charts"]] == list(charts.DIMENSION_NAMES)
    overall = data["charts"][0]
    assert overall["percent"] is False and overall["kind"] == "lines" and overall["top"] is None
    assert [(s["category"], s["name"], s["values"]) for s in overall["series"]] == [
        ("with_mirrors", "with mirrors", [0, 0, 4]),
        ("without_mirrors", "without mirrors", [0, 0, 0]),
        ("people", "by people", [0, 0, 0]),  # drawn alone by the "people only" toggle
    ]
    assert overall["people"] is True and "people" not in data["charts"][1]
    assert data["charts"][1]["series"] == []


def test_a_new_chart_is_one_spec() -> None:
    """What the lead's new dimensions will do: a spec with labels, a fixed order, top N, stacked."""
    spec = charts.ChartSpec(
        "ci", "Downloads from CI", kind="stacked", top=1, categories=("True",), labels={"True": "CI"}
    )
    win = Window(dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    points = [Point("False", dt.date(2026, 1, 1), 5), Point("null", dt.date(2026, 1, 2), 1)]
    data = charts_of({"ci": points}, win, specs=(spec,))
    (chart,) = data["charts"]
    assert {k: v for k, v in chart.items() if k != "series"} == {
        "id": "ci",
        "title": "Downloads from CI",
        "kind": "stacked",
        "percent": True,
        "top": 1,
    }
    assert [(s["category"], s["name"], s["values"]) for s in chart["series"]] == [
        ("True", "CI", [0, 0]),
        ("False", "False", [5, 0]),
        ("null", "unknown", [0, 1]),
    ]
    assert charts.to_csv(data, "ci") == "date,True,False,null\n2026-01-01,0,5,0\n2026-01-02,0,0,1\n"


def test_send_folds_the_least_downloaded_categories_into_other_except_for_csv() -> None:
    spec = charts.ChartSpec("version", "Downloads by version", top=2, send=2)
    win = Window(dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    day1, day2 = win.start, win.end
    points = [
        Point("1.0", day1, 1),
        Point("2.0", day1, 50),
        Point("3.0", day2, 40),
        Point("other", day2, 2),
        Point("0.9", day2, 3),
    ]
    folded = charts_of({"version": points}, win, specs=(spec,))["charts"][0]["series"]
    assert [(s["category"], s["values"]) for s in folded] == [
        ("2.0", [50, 0]),
        ("3.0", [0, 40]),
        ("other", [1, 5]),  # 1.0, 0.9 and the stored "other"
    ]
    full = charts_of({"version": points}, win, specs=(spec,), folded=False)
    assert len(full["charts"][0]["series"]) == 5


def test_labels() -> None:
    minor = next(s for s in charts.PACKAGE_CHARTS if s.id == "python_minor")
    system = next(s for s in charts.PACKAGE_CHARTS if s.id == "system")
    assert minor.label("3.12") == "Python 3.12" and minor.label("null") == "unknown"
    assert system.label("Linux") == "Linux" and system.label("other") == "other"


def test_compare_chart_keeps_order_and_zero_fills() -> None:
    win = Window(dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    data = charts.compare_chart({"b": [Point("without_mirrors", dt.date(2026, 1, 2), 3)], "a": []}, win)
    assert [(s["name"], s["values"]) for s in data["charts"][0]["series"]] == [("b", [0, 3]), ("a", [0, 0])]


def test_to_csv() -> None:
    win = Window(dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    data = charts_of(
        {"system": [Point("Linux", dt.date(2026, 1, 1), 3), Point("null", dt.date(2026, 1, 2), 1)]}, win
    )
    assert charts.to_csv(data, "system") == "date,Linux,null\n2026-01-01,3,0\n2026-01-02,0,1\n"
    with pytest.raises(KeyError):
        charts.to_csv(data, "nope")


def test_sparkline_scales_into_the_box() -> None:
    assert charts.sparkline([]) == ""
    assert charts.sparkline([0, 5, 10], width=100, height=22) == "0,21 50,11 100,1"
    assert charts.sparkline([0, 0]) == "0,27 120,27"  # all zero: flat at the bottom, no division by zero
    assert charts.sparkline([7]) == "0,1"


D = dt.date


def test_bin_starts_are_mondays_and_firsts_of_months_touching_the_window() -> None:
    win = Window(D(2026, 1, 15), D(2026, 3, 4))  # a Thursday to a Wednesday
    assert charts.bin_starts(win, "month") == [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)]
    weeks = charts.bin_starts(win, "week")
    assert weeks[0] == D(2026, 1, 12) and weeks[-1] == D(2026, 3, 2) and len(weeks) == 8
    assert all(w.weekday() == 0 for w in weeks)
    assert charts.bin_starts(win, "day") == charts.dates(win) and len(charts.dates(win)) == win.days


def test_partial_bins_are_the_first_and_last_the_window_cuts() -> None:
    win = Window(D(2026, 1, 15), D(2026, 3, 4))
    assert charts.partial_bins(win, "month") == {
        "2026-01-01": {"days": 17, "of": 31},
        "2026-03-01": {"days": 4, "of": 31},
    }
    assert charts.partial_bins(win, "week") == {
        "2026-01-12": {"days": 4, "of": 7},  # Thursday to Sunday
        "2026-03-02": {"days": 3, "of": 7},  # Monday to Wednesday
    }
    assert charts.partial_bins(Window(D(2026, 2, 1), D(2026, 3, 31)), "month") == {}
    assert charts.partial_bins(win, "day") == {}
    # one bin cut at both ends is partial once
    assert charts.partial_bins(Window(D(2026, 2, 3), D(2026, 2, 20)), "month") == {
        "2026-02-01": {"days": 18, "of": 28}
    }


def test_week_and_month_sums_zero_fill_empty_bins_and_ignore_days_outside() -> None:
    win = Window(D(2026, 1, 30), D(2026, 4, 2))
    points = [
        Point("3.12", D(2026, 1, 30), 1),
        Point("3.12", D(2026, 1, 31), 2),
        Point("3.12", D(2026, 3, 31), 8),
        Point("3.12", D(2026, 4, 2), 16),
        Point("3.12", D(2026, 4, 3), 99),  # after the window
        Point("null", D(2026, 1, 29), 99),  # before it
        Point("null", D(2026, 2, 14), 4),
    ]
    assert charts.zero_fill(points, win, "month") == {"3.12": [3, 0, 8, 16], "null": [0, 4, 0, 0]}
    weeks = charts.zero_fill(points, win, "week")
    assert sum(weeks["3.12"]) == 27 and weeks["3.12"][0] == 3 and weeks["3.12"][-1] == 24
    daily = charts.zero_fill(points, win)
    assert len(daily["3.12"]) == win.days and sum(daily["3.12"]) == 27


def test_binned_page_data_carries_the_bin_the_partial_bins_and_fixed_categories() -> None:
    win = Window(D(2026, 1, 15), D(2026, 3, 4))
    spec = next(s for s in charts.PACKAGE_CHARTS if s.id == "overall")
    points = [Point("without_mirrors", D(2026, 1, 20), 5), Point("without_mirrors", D(2026, 3, 1), 7)]
    data = charts_of({"overall": points}, win, specs=(spec,), bin="month")
    assert data["dates"] == ["2026-01-01", "2026-02-01", "2026-03-01"] and data["bin"] == "month"
    assert set(data["partial"]) == {"2026-01-01", "2026-03-01"}
    series = {s["category"]: s["values"] for s in data["charts"][0]["series"]}
    assert series == {"with_mirrors": [0, 0, 0], "without_mirrors": [5, 0, 7], "people": [0, 0, 0]}
    assert charts.to_csv(data, "overall") == (
        "date,partial,with_mirrors,without_mirrors,people\n"
        "2026-01-01,true,0,5,0\n2026-02-01,false,0,0,0\n2026-03-01,true,0,7,0\n"
    )


def test_compare_and_share_charts_bin_too() -> None:
    win = Window(D(2026, 1, 15), D(2026, 3, 4))
    a = [Point("without_mirrors", D(2026, 1, 20), 5), Point("with_mirrors", D(2026, 1, 20), 50)]
    data = charts.compare_chart({"a": a, "b": []}, win, "month")
    assert [(s["name"], s["values"]) for s in data["charts"][0]["series"]] == [
        ("a", [5, 0, 0]),
        ("b", [0, 0, 0]),
    ]
    assert data["bin"] == "month" and "2026-01-01" in data["partial"]
    minors = [
        Point("3.12", D(2026, 1, 20), 1),
        Point("3.11", D(2026, 1, 21), 3),
        Point("3.12", D(2026, 2, 2), 2),
        Point("3.12", D(2026, 4, 1), 100),  # outside the window
    ]
    shares = charts.share_chart({"a": minors}, "python_minor", "3.12", win, "month")
    assert shares["charts"][0]["series"][0]["values"] == [25.0, 100.0, 0.0]  # per month: 1/4, 2/2, none
