import datetime as dt

import pytest

from services.web import charts
from shared.series import Point

END = dt.date(2026, 3, 31)


def test_window_defaults_to_every_retained_day_and_lookback_narrows() -> None:
    full = charts.window(END, None, 180)
    assert full.days == 181 and full.end == END and full.start == END - dt.timedelta(days=180)
    assert charts.window(END, 1, 180) == charts.Window(END, END)
    assert charts.window(END, 30, 180).start == dt.date(2026, 3, 2)


@pytest.mark.parametrize("raw", ["0", "181", "-1", "abc", "1.5", " 3", "9999999"])
def test_parse_lookback_rejects(raw: str) -> None:
    with pytest.raises(charts.LookbackError, match="between 1 and 180"):
        charts.parse_lookback(raw, 180)


def test_parse_lookback_accepts() -> None:
    assert charts.parse_lookback(None, 180) is None
    assert charts.parse_lookback("", 180) is None
    assert charts.parse_lookback("1", 180) == 1
    assert charts.parse_lookback("180", 180) == 180


def test_zero_fill_fills_missing_days_and_drops_outside_window() -> None:
    win = charts.Window(dt.date(2026, 1, 1), dt.date(2026, 1, 4))
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
    win = charts.Window(dt.date(2026, 1, 1), dt.date(2026, 1, 3))
    data = charts.package_charts({"overall": [Point("with_mirrors", dt.date(2026, 1, 3), 4)]}, win)
    assert data["dates"] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert [c["id"] for c in data["charts"]] == list(charts.DIMENSION_NAMES)
    overall = data["charts"][0]
    assert overall["percent"] is False and overall["kind"] == "lines" and overall["top"] is None
    assert [(s["category"], s["name"], s["values"]) for s in overall["series"]] == [
        ("with_mirrors", "with mirrors", [0, 0, 4]),
        ("without_mirrors", "without mirrors", [0, 0, 0]),
    ]
    assert data["charts"][1]["series"] == []


def test_a_new_chart_is_one_spec() -> None:
    """What the lead's new dimensions will do: a spec with labels, a fixed order, top N, stacked."""
    spec = charts.ChartSpec(
        "ci", "Downloads from CI", kind="stacked", top=1, categories=("True",), labels={"True": "CI"}
    )
    win = charts.Window(dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    points = [Point("False", dt.date(2026, 1, 1), 5), Point("null", dt.date(2026, 1, 2), 1)]
    data = charts.package_charts({"ci": points}, win, specs=(spec,))
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
    win = charts.Window(dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    day1, day2 = win.start, win.end
    points = [
        Point("1.0", day1, 1),
        Point("2.0", day1, 50),
        Point("3.0", day2, 40),
        Point("other", day2, 2),
        Point("0.9", day2, 3),
    ]
    folded = charts.package_charts({"version": points}, win, specs=(spec,))["charts"][0]["series"]
    assert [(s["category"], s["values"]) for s in folded] == [
        ("2.0", [50, 0]),
        ("3.0", [0, 40]),
        ("other", [1, 5]),  # 1.0, 0.9 and the stored "other"
    ]
    full = charts.package_charts({"version": points}, win, specs=(spec,), folded=False)
    assert len(full["charts"][0]["series"]) == 5


def test_labels() -> None:
    minor = next(s for s in charts.PACKAGE_CHARTS if s.id == "python_minor")
    system = next(s for s in charts.PACKAGE_CHARTS if s.id == "system")
    assert minor.label("3.12") == "Python 3.12" and minor.label("null") == "unknown"
    assert system.label("Linux") == "Linux" and system.label("other") == "other"


def test_compare_chart_keeps_order_and_zero_fills() -> None:
    win = charts.Window(dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    data = charts.compare_chart({"b": [Point("without_mirrors", dt.date(2026, 1, 2), 3)], "a": []}, win)
    assert [(s["name"], s["values"]) for s in data["charts"][0]["series"]] == [("b", [0, 3]), ("a", [0, 0])]


def test_to_csv() -> None:
    win = charts.Window(dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    data = charts.package_charts(
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
