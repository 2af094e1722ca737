"""Export file names: only ``YYYY-MM-DD.parquet`` and ``YYYY-MM-DD.csv.gz`` reach the disk."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.exports import BadExportName, file_name, parse_name


@pytest.mark.parametrize(
    ("name", "day", "fmt"),
    [
        ("2026-12-01.parquet", dt.date(2026, 12, 1), "parquet"),
        ("2024-02-29.csv.gz", dt.date(2024, 2, 29), "csv.gz"),
    ],
)
def test_good_names(name: str, day: dt.date, fmt: str) -> None:
    assert parse_name(name) == (day, fmt)
    assert file_name(day, fmt) == name


@pytest.mark.parametrize(
    "name",
    [
        "2026-13-01.parquet",
        "2025-02-29.parquet",
        "2026-12-01.csv",
        "2026-12-01.json",
        "2026-12-01.parquet.tmp",
        "../2026-12-01.parquet",
        "..%2F2026-12-01.parquet",
        "/etc/passwd",
        ".tmp-abc-2026-12-01.parquet",
        "2026-12-1.parquet",
        "２０２６-12-01.parquet",
        "2026-12-01.parquet\n",
        "",
    ],
)
def test_bad_names(name: str) -> None:
    with pytest.raises(BadExportName):
        parse_name(name)


def test_unknown_format_has_no_file_name() -> None:
    with pytest.raises(BadExportName):
        file_name(dt.date(2026, 12, 1), "json")
