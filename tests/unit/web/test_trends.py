"""services.web.trends: the trend choices of a chart page's URL, checked."""

from __future__ import annotations

import pytest

from services.web import trends
from services.web.ranges import RangeError


def test_every_choice_is_read() -> None:
    assert trends.parse({}) == trends.Trend()
    found = trends.parse({"mean": "28", "pct": "system,python_minor", "people": "1", "index": "1"})
    assert found == trends.Trend(mean=28, pct=("system", "python_minor"), people=True, index=True)
    assert trends.parse({"mean": "7", "people": "0", "index": "0"}) == trends.Trend(mean=7)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"mean": "5"}, "mean"),
        ({"mean": "7d"}, "mean"),
        ({"pct": "system,<script>"}, "pct"),
        ({"pct": ",".join(["a"] * 21)}, "pct"),
        ({"people": "yes"}, "people"),
        ({"index": "2"}, "index"),
    ],
)
def test_a_bad_choice_names_its_parameter(query: dict[str, str], parameter: str) -> None:
    with pytest.raises(RangeError) as raised:
        trends.parse(query)
    assert raised.value.parameter == parameter
