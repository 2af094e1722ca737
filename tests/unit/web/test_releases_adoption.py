"""Release markers' data (PyPI's releases parsed; the fake PyPI's synthetic releases) and the
adoption chart's shares (services.web.adoption), checked against plain reference computations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.web import adoption
from services.web.fakepypi import invented_project
from services.web.pypi import MAX_RELEASES, Metadata, parse_metadata, parse_releases
from services.web.ranges import Window
from shared.series import Point
from shared.synthetic_catalog import index_of, release_day, releases
from tests.support.matrices import adoption_chart


def files(*times: Any, yanked: bool = False) -> list[dict[str, Any]]:
    return [{"upload_time_iso_8601": t, "yanked": yanked} for t in times]


def test_releases_first_upload_oldest_first_without_yanked_or_odd_entries() -> None:
    found = parse_releases(
        {
            "2.0": files("2024-05-02T10:00:00.123Z", "2024-05-01T23:00:00-03:00"),
            "1.0": files("2023-01-01T00:00:00Z"),
            "1.5": files("2023-06-01T00:00:00Z", yanked=True),
            "1.6": [],
            "1.7": files("yesterday", None, 5),
            "x" * 200: files("2023-02-01T00:00:00Z"),
            "1.8": "not a list",
        }
    )
    assert found == [("1.0", "2023-01-01T00:00:00Z"), ("2.0", "2024-05-02T02:00:00Z")]
    for odd in (None, [], "x", {"1.0": None}, {3: files("2023-01-01T00:00:00Z")}):
        assert parse_releases(odd) == []


def test_only_the_newest_releases_are_kept_and_they_survive_the_cache() -> None:
    many = {f"1.{k}": files(f"{dt.date(2020, 1, 1) + dt.timedelta(days=k)}T00:00:00Z") for k in range(1500)}
    found = parse_releases(many)
    assert (
        len(found) == MAX_RELEASES and found[-1][0] == "1.1499" and found[0][0] == f"1.{1500 - MAX_RELEASES}"
    )
    meta = parse_metadata({"info": {"version": "1.1499"}, "releases": many})
    assert Metadata.from_json(meta.to_json()) == meta
    assert Metadata.from_json('{"summary": "cached before releases were"}').releases == []


def test_fake_pypi_serves_the_synthetic_release_days() -> None:
    today = dt.date(2026, 12, 7)
    meta = parse_metadata(invented_project("requests", today))
    index = index_of("requests")
    assert index is not None
    expected = [(v, day.isoformat()) for v, day in releases(index, today)]
    assert [(v, t[:10]) for v, t in meta.releases] == expected
    assert meta.version == expected[-1][0] and release_day(index, 0).isoformat() == expected[0][1]
    assert parse_metadata(invented_project("not-synthetic-at-all", today)).releases == []


WIN = Window(dt.date(2026, 3, 1), dt.date(2026, 3, 10))


def points(by_version: dict[str, list[int]]) -> list[Point]:
    return [
        Point(v, WIN.start + dt.timedelta(days=k), n)
        for v, days in by_version.items()
        for k, n in enumerate(days)
        if n
    ]


def test_adoption_shares_start_at_the_release_and_use_every_version_as_total() -> None:
    counts = {
        "1.9.0": [50] * 10,
        "null": [10] * 10,
        "2.0rc1": [0, 0, 0, 5, 0, 0, 0, 0, 0, 0],
        "2.0.0": [0, 0, 0, 0, 10, 20, 30, 40, 50, 60],
    }
    chart = adoption_chart(points(counts), WIN)
    assert chart is not None and chart["grouping"] == "major"
    totals = [sum(c[k] for c in counts.values()) for k in range(10)]
    majors = {s["name"]: s["values"] for s in chart["groupings"]["major"]}
    assert majors["1.x"] == [round(100 * 50 / t, 2) for t in totals]
    two = [a + b for a, b in zip(counts["2.0rc1"], counts["2.0.0"], strict=True)]
    assert majors["2.x"] == [None] * 3 + [
        round(100 * n / t, 2) for n, t in zip(two[3:], totals[3:], strict=True)
    ]
    versions = [s["name"] for s in chart["groupings"]["version"]]
    assert versions == ["1.9.0", "2.0rc1", "2.0.0"]  # null is no version: only in the totals
    weekly = adoption_chart(points(counts), WIN, "week")
    assert weekly is not None and all(
        v is None or 0 <= v <= 100 for s in weekly["groupings"]["minor"] for v in s["values"]
    )


@pytest.mark.parametrize("n", [1, 9, 20])
def test_adoption_keeps_the_most_downloaded_groups(n: int) -> None:
    counts = {f"1.{k}.0": [k + 1] * 10 for k in range(n)}
    chart = adoption_chart(points(counts), WIN)
    assert chart is not None and chart["grouping"] == "minor"
    kept = [s["category"] for s in chart["groupings"]["minor"]]
    assert kept == [f"1.{k}" for k in range(max(0, n - adoption.SHOWN), n)]
    assert adoption_chart([], WIN) is None


def test_the_api_page_names_spec_a_repeatable_string() -> None:
    from services.web import apidocs
    from shared.openapi import openapi_document

    (version,) = [op for op in apidocs.operations(openapi_document()) if op["id"] == "get_version"]
    kinds = {p["name"]: p["schema"] for p in version["parameters"]}
    assert kinds["spec"] == "string, repeatable" and kinds["group"] == "major | minor"
