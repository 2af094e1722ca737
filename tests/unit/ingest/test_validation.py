"""Validation and merging of package-days before anything is published."""

from __future__ import annotations

import datetime as dt

import pytest

from services.ingest.validation import InvalidPackageDay, encode_package_day, merge_counts
from shared.events import CATEGORY_LIMITS, MAX_CATEGORIES, OTHER, PackageDay

DAY = dt.date(2024, 3, 4)


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        ({"overall": {"with_mirrors": -1}}, "negative_count"),
        ({"overall": {"with_mirrors": 1.0}}, "bad_count"),
        ({"overall": {"with_mirrors": True}}, "bad_count"),
        ({"overall": {"with_mirrors": "3"}}, "bad_count"),
        ({"overall": {"everything": 3}}, "unknown_category"),
        ({"system": {"linux": 3}}, "unknown_category"),  # categories are case-sensitive
        ({"python_minor": {"3": 3}}, "unknown_category"),
        ({"python_major": {"3.12": 3}}, "unknown_category"),
        ({"ci": {"yes": 3}}, "unknown_category"),
        ({"cpu": {"x86_64": 3}}, "unknown_category"),
        ({"python_minor": {f"3.{k}": 1 for k in range(MAX_CATEGORIES + 1)}}, "invalid"),
        ({"overall": {"with_mirrors": 0}}, "empty"),
        ({}, "empty"),
    ],
)
def test_invalid_counts_are_refused_with_a_reason(counts: dict[str, dict[str, object]], reason: str) -> None:
    with pytest.raises(InvalidPackageDay) as info:
        encode_package_day(DAY, "pkg", counts, "run", "test")  # type: ignore[arg-type]
    assert info.value.reason == reason


def test_zero_rows_are_dropped_and_rows_counted() -> None:
    event = encode_package_day(
        DAY, "pkg", {"overall": {"with_mirrors": 3, "without_mirrors": 0}, "system": {"null": 2}}, "r", "t"
    )
    assert event.rows == 2 and event.downloads_with_mirrors == 3
    assert b'"overall":{"with_mirrors":3}' in event.payload
    assert event.msg_id == "2024-03-04/pkg/r"


def test_merging_adds_and_never_hides_a_bad_value() -> None:
    into: dict[str, dict[str, int]] = {"overall": {"with_mirrors": 2}, "system": {"Linux": 1}}
    merge_counts(into, {"overall": {"with_mirrors": 3, "without_mirrors": 1}, "python_major": {"3": 1}})
    assert into == {
        "overall": {"with_mirrors": 5, "without_mirrors": 1},
        "system": {"Linux": 1},
        "python_major": {"3": 1},
    }
    merge_counts(into, {"system": {"Linux": -4}})
    merge_counts(into, {"system": {"Linux": 10}})
    assert into["system"]["Linux"] == -4  # stays negative: the merged package-day is refused
    merge_counts(into, {"overall": {"with_mirrors": "x"}})  # type: ignore[dict-item]
    with pytest.raises(InvalidPackageDay) as info:
        encode_package_day(DAY, "pkg", into, "r", "t")
    assert info.value.reason in ("negative_count", "bad_count")


def test_free_text_dimensions_fold_what_events_cannot_carry_into_other() -> None:
    limit = CATEGORY_LIMITS["version"]
    versions = {f"1.{k}": k + 1 for k in range(limit + 10)}
    versions["1.0\x00evil"] = 5  # a control character: not a category, still a download
    versions["9" * 200] = 7  # longer than a version may be
    event = encode_package_day(
        DAY, "pkg", {"overall": {"with_mirrors": 1}, "version": versions, "installer": {"pip": 1}}, "r", "t"
    )
    decoded = PackageDay.from_bytes(event.payload)
    assert len(decoded.counts.version) == limit
    assert sum(decoded.counts.version.values()) == sum(versions.values())  # nothing lost
    # the largest versions are kept as they are; the smallest, and the unusable two, are in ``other``
    assert decoded.counts.version[f"1.{limit + 9}"] == limit + 10
    assert "1.0" not in decoded.counts.version
    assert decoded.counts.version[OTHER] == sum(range(1, 12)) + 5 + 7


def test_platforms_and_abis_fold_like_the_other_free_text_dimensions() -> None:
    """Too many platforms or ABIs in one package-day, or a name the events cannot carry: the
    smallest and the unusable are counted under ``other``, so both still add up."""
    platforms = {f"platform {k}": k + 1 for k in range(MAX_CATEGORIES + 5)}
    platforms["x" * 65] = 3  # longer than a platform may be
    platforms[OTHER] = 2  # the query's own other (an egg) joins the fold
    abis = {"cp313t": 4, "cp312\n": 6, "sdist": 1}
    event = encode_package_day(
        DAY, "pkg", {"overall": {"with_mirrors": 1}, "platform": platforms, "abi": abis}, "r", "t"
    )
    decoded = PackageDay.from_bytes(event.payload)
    assert decoded.schema_version == 4
    assert len(decoded.counts.platform) == MAX_CATEGORIES
    assert sum(decoded.counts.platform.values()) == sum(platforms.values())
    assert decoded.counts.platform[OTHER] == sum(range(1, 7)) + 3 + 2
    assert decoded.counts.abi == {"cp313t": 4, OTHER: 6, "sdist": 1}
