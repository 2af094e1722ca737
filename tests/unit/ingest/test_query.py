"""query.sql's accounting (contracts.md section 2) on hand-made rows, through the raw source."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pytest

from services.ingest.sources.base import SourceError
from services.ingest.sources.raw import RawSource, duckdb_query
from services.ingest.sources.rows import first_day_text, group_rows, partition_day, query_text

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ingest"
JSONL = FIXTURES / "file_downloads.jsonl"
DAY = dt.date(2024, 3, 4)


def expected() -> dict[str, dict[str, dict[str, int]]]:
    data = json.loads((FIXTURES / "expected_2024-03-04.json").read_text())
    data.pop("_comment")
    return data


def as_package_days(rows: list[tuple[str, str, str, int]]) -> dict[str, dict[str, dict[str, int]]]:
    return dict(group_rows(rows))


def test_hand_counted_day_from_json_lines() -> None:
    assert as_package_days(RawSource(JSONL).rows(DAY)) == expected()


def test_same_counts_from_parquet(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.read_json(str(JSONL), format="newline_delimited").write_parquet(str(tmp_path / "part-0.parquet"))
    con.close()
    assert as_package_days(RawSource(tmp_path).rows(DAY)) == expected()


def test_only_the_requested_utc_day_is_counted() -> None:
    source = RawSource(JSONL)
    assert as_package_days(source.rows(DAY + dt.timedelta(days=1))) == {
        "other-day": {
            "overall": {"people": 1, "with_mirrors": 1, "without_mirrors": 1},
            "python_major": {"3": 1},
            "python_minor": {"3.12": 1},
            "system": {"Linux": 1},
            "version": {"1.0": 1},
            "installer": {"pip": 1},
            "country": {"US": 1},
            "file_type": {"bdist_wheel": 1},
            "ci": {"null": 1},
            "platform": {"any": 1},
            "abi": {"none": 1},
        },
        "requests": {
            "overall": {"people": 1, "with_mirrors": 1, "without_mirrors": 1},
            "python_major": {"3": 1},
            "python_minor": {"3.12": 1},
            "system": {"Linux": 1},
            "version": {"9.9.9": 1},  # the first second of 03-05, not the last of 03-03
            "installer": {"pip": 1},
            "country": {"US": 1},
            "file_type": {"bdist_wheel": 1},
            "ci": {"null": 1},
            "platform": {"any": 1},
            "abi": {"none": 1},
        },
    }
    assert source.rows(dt.date(2023, 1, 1)) == []


def test_the_mirror_list_is_configurable() -> None:
    rows = as_package_days(RawSource(JSONL, mirrors=["bandersnatch"]).rows(DAY))
    # devpi, Artifactory and z3c.pypimirror now count as ordinary installers (3 more for requests)
    # people are not counted among mirrors whatever the list says (none of them is on the allowlist)
    assert rows["requests"]["overall"] == {"people": 5, "with_mirrors": 13, "without_mirrors": 11}
    # ... and in every breakdown: their versions, countries, file types and ci flags now count
    assert rows["requests"]["version"] == {
        "2.30.0": 1,
        "2.31.0": 4,
        "2.32.0": 4,
        "2.32.0.post1": 1,
        "null": 1,
    }
    assert rows["requests"]["country"] == {"CN": 1, "DE": 2, "GB": 1, "IN": 2, "US": 4, "null": 1}
    assert rows["requests"]["ci"] == {"false": 4, "null": 3, "true": 4}
    assert rows["requests"]["platform"] == {"any": 9, "sdist": 2}  # devpi's download is an sdist
    # the installer breakdown counts every kept download whatever the mirror list says
    assert sum(rows["requests"]["installer"].values()) == 13


def test_rows_stream_as_package_days() -> None:
    async def collect() -> dict[str, dict[str, dict[str, int]]]:
        return {name: counts async for name, counts in RawSource(JSONL).iter_day(DAY)}

    assert asyncio.run(collect()) == expected()


def test_query_text_binds_parameters_and_filters_the_partition() -> None:
    sql = query_text()
    assert "@day" in sql and "@mirrors" in sql and "@people" in sql
    assert re.search(r"WHERE timestamp >= TIMESTAMP\(@day\)\s+AND timestamp < TIMESTAMP\(DATE_ADD\(@day", sql)
    assert "`bigquery-public-data.pypi.file_downloads`" in sql
    assert "{" not in sql and "%s" not in sql  # never a format template
    local = duckdb_query(sql)
    assert "$day" in local and "bigquery-public-data" not in local


def test_missing_or_foreign_files_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        RawSource(tmp_path / "nope.parquet").rows(DAY)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SourceError, match="no .parquet"):
        RawSource(tmp_path).rows(DAY)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"something": 1}\n')
    with pytest.raises(SourceError, match="timestamp"):
        RawSource(bad).rows(DAY)


def test_the_first_day_is_the_oldest_utc_day_of_the_export_by_first_day_sql() -> None:
    source = RawSource(JSONL)
    # the oldest row is 2024-03-03T23:59:59.999999Z: its UTC day, not the next one
    assert source.first_day() == dt.date(2024, 3, 3)
    assert source.partitions()[0] == ("20240303", 1)
    assert [pid for pid, _rows in source.partitions()] == ["20240303", "20240304", "20240305"]
    assert "INFORMATION_SCHEMA.PARTITIONS" in first_day_text() and "@table" in first_day_text()
    assert "partitions" in duckdb_query(first_day_text())  # the local view stands in for it


def test_partition_ids_name_a_day_or_fail_clearly() -> None:
    assert partition_day("20160122") == dt.date(2016, 1, 22)
    for bad in ("2016012", "__NULL__", "20161322"):
        with pytest.raises(SourceError, match="not a daily partition id"):
            partition_day(bad)
    with pytest.raises(SourceError, match="no partition with rows"):
        partition_day(None)


def test_people_are_the_allowlisted_installers_outside_ci_and_mirrors() -> None:
    """people.jsonl, one package: Browser, requests, OS, Bazel, twine and a NULL installer are not
    people; poetry and uv with ci true are CI; pipx, conda, pdm and pip (ci null or false) count;
    a row with python '3' is dropped everywhere."""
    people = FIXTURES / "people.jsonl"
    rows = as_package_days(RawSource(people).rows(DAY))
    assert rows == {
        "people-edges": {
            "overall": {"people": 4, "with_mirrors": 12, "without_mirrors": 11},
            "python_major": {"3": 11},
            "python_minor": {"3.11": 3, "3.12": 7, "3.13": 1},
            "system": {"Linux": 11},
            "version": {"1.0": 11},
            "installer": {
                "Bazel": 1, "Browser": 1, "OS": 1, "conda": 1, "null": 1, "pdm": 1, "pip": 1, "pipx": 1,
                "poetry": 1, "requests": 1, "twine": 1, "uv": 1,
            },
            "country": {"US": 11},
            "file_type": {"bdist_wheel": 11},
            "ci": {"false": 3, "null": 6, "true": 2},
            "platform": {"any": 11},
            "abi": {"none": 11},
        }
    }  # fmt: skip
    # an installer on the allowlist that the operator lists as a mirror is a mirror: not people
    as_mirror = as_package_days(RawSource(people, mirrors=[*RawSource(people).mirrors, "pip"]).rows(DAY))
    assert as_mirror["people-edges"]["overall"]["people"] == 3  # pipx, conda, pdm
    rows = as_package_days(RawSource(JSONL, mirrors=[*RawSource(JSONL).mirrors, "pip"]).rows(DAY))
    assert "people" not in rows["requests"]["overall"]  # its pip downloads are a mirror's now, its uv one CI


#: platforms.jsonl, one package, counted by hand: the 20 rows, one line each.
#: 1-4 manylinux x86_64 under four spellings (manylinux_2_17 + 2014 compressed, 2014, 2010, 1);
#: 5 musllinux aarch64 cp313t; 6 macOS arm64; 7 Windows amd64; 8 an sdist (.tar.gz); 9 no file
#: name; 10 a mirror's (bandersnatch: with_mirrors only); 11 an egg (other); 12 a wheel name of
#: four parts (other in both); 13 a build tag and a platform the rule does not name (other, cp312);
#: 14 an upper-case platform tag (Windows amd64, abi3); 15 python '10.0' (dropped everywhere);
#: 16 an sdist without a file name; 17 a .zip sdist; 18 a .tar.gz whose type is NULL (other:
#: file.type decides what an sdist is); 19 manylinux aarch64 compressed; 20 Windows amd64 cp314t.
PLATFORM_EDGES = {
    "platform": {
        "manylinux x86_64": 4, "musllinux aarch64": 1, "macOS arm64": 1, "Windows amd64": 3, "sdist": 3,
        "null": 1, "other": 4, "manylinux aarch64": 1,
    },
    "abi": {
        "cp313t": 2, "cp313": 2, "cp39": 1, "cp38": 1, "cp312": 3, "sdist": 3, "null": 1, "other": 3,
        "abi3": 1, "cp314t": 1,
    },
}  # fmt: skip


def test_platforms_and_abis_from_wheel_file_names() -> None:
    rows = as_package_days(RawSource(FIXTURES / "platforms.jsonl").rows(DAY))
    numpy = rows["numpy"]
    assert numpy["overall"] == {"people": 18, "with_mirrors": 19, "without_mirrors": 18}
    assert {d: numpy[d] for d in PLATFORM_EDGES} == PLATFORM_EDGES
    # both count what without_mirrors counts, as file_type does
    assert (
        sum(numpy["platform"].values()) == sum(numpy["abi"].values()) == numpy["overall"]["without_mirrors"]
    )
    assert numpy["platform"]["sdist"] == numpy["abi"]["sdist"] == numpy["file_type"]["sdist"]


def test_the_query_cuts_raw_tags_and_the_sources_name_them() -> None:
    """The SQL gives the tags as written (grouped per raw tag); group_rows names and sums them."""
    raw = [r for r in RawSource(FIXTURES / "platforms.jsonl").rows(DAY) if r[1] == "platform"]
    tags = {r[2]: r[3] for r in raw}
    assert tags["manylinux_2_17_x86_64.manylinux2014_x86_64"] == 1
    assert tags["manylinux1_x86_64"] == tags["manylinux2010_x86_64"] == 1
    assert tags["manylinux2014_x86_64"] == 1
    assert "manylinux x86_64" not in tags
    assert as_package_days(raw)["numpy"]["platform"]["manylinux x86_64"] == 4
