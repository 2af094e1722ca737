import datetime as dt
import json

import pytest

from shared.events import (
    MAX_COUNT,
    MAX_EVENT_BYTES,
    DayManifest,
    PackageDay,
    Subjects,
    decode_event,
    package_day_msg_id,
)

DAY = dt.date(2026, 11, 24)


def _package_day(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "schema_version": 1,
        "day": "2026-11-24",
        "package": "requests",
        "run_id": "r1",
        "source": "synthetic",
        "counts": {
            "overall": {"with_mirrors": 12, "without_mirrors": 10},
            "python_major": {"3": 9, "null": 1},
            "python_minor": {"3.12": 9, "null": 1},
            "system": {"Linux": 8, "null": 2},
        },
    }
    body.update(overrides)
    return body


def test_round_trip() -> None:
    event = PackageDay.model_validate(_package_day())
    again = PackageDay.from_bytes(event.to_bytes())
    assert again == event
    assert again.msg_id == "2026-11-24/requests/r1" == package_day_msg_id(DAY, "requests", "r1")
    assert ("overall", "with_mirrors", 12) in again.counts.rows()


def test_unknown_fields_are_ignored() -> None:
    event = PackageDay.model_validate_json(json.dumps(_package_day(added_later="x")))
    assert not hasattr(event, "added_later")


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"schema_version": 5}, "schema version"),
        ({"package": "Requests"}, "not normalised"),
        ({"package": "bad name"}, "package name"),
        ({"counts": {"overall": {"with_mirrors": -1}}}, "negative"),
        ({"counts": {"system": {"Plan9": 1}}}, "unknown category"),
        ({"counts": {"python_minor": {"3": 1}}}, "unknown category"),
        ({"day": "yesterday"}, "day"),
    ],
)
def test_rejects_bad_bodies(override: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        PackageDay.from_bytes(json.dumps(_package_day(**override)).encode())


def test_largest_realistic_message_is_far_below_max_payload() -> None:
    minors = {f"{major}.{minor}": 10**12 for major in range(2, 4) for minor in range(40)}
    event = PackageDay.model_validate(
        _package_day(
            package="a" * 200, counts={"python_minor": minors, "overall": {"with_mirrors": MAX_COUNT}}
        )
    )
    assert len(event.to_bytes()) < MAX_EVENT_BYTES // 8


def test_oversized_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        PackageDay.from_bytes(b" " * (MAX_EVENT_BYTES + 1))


def test_decode_by_subject() -> None:
    subjects = Subjects("ns1")
    manifest = DayManifest(day=DAY, run_id="r1", packages=1, rows=7, downloads_with_mirrors=12)
    assert decode_event(subjects.manifest(DAY), manifest.to_bytes(), subjects) == manifest
    body = PackageDay.model_validate(_package_day()).to_bytes()
    assert isinstance(decode_event(subjects.daily(DAY), body, subjects), PackageDay)
    with pytest.raises(ValueError, match="does not match"):
        decode_event(subjects.daily(DAY + dt.timedelta(days=1)), body, subjects)
    with pytest.raises(ValueError, match="unexpected subject"):
        decode_event("other.subject", body, subjects)


def test_subjects_namespace() -> None:
    assert Subjects().daily(DAY) == "downloads.daily.v1.2026-11-24"
    assert Subjects("t1").downloads_stream == "T1_DOWNLOADS"
    with pytest.raises(ValueError):
        Subjects("bad.ns")


def test_the_previous_schema_version_still_reads_and_the_current_one_carries_the_new_dimensions() -> None:
    old = PackageDay.model_validate_json(json.dumps(_package_day(schema_version=1)))
    assert old.schema_version == 1 and old.counts.version == {} and old.counts.installer == {}
    counts = dict(_package_day()["counts"])  # type: ignore[call-overload]
    counts.update(
        version={"2.32.3": 7, "null": 3},
        installer={"pip": 9, "bandersnatch": 2, "null": 1},
        country={"US": 6, "null": 4},
        file_type={"bdist_wheel": 9, "sdist": 1},
        ci={"true": 4, "null": 6},
    )
    new = PackageDay.model_validate_json(json.dumps(_package_day(schema_version=2, counts=counts)))
    assert ("version", "2.32.3", 7) in new.counts.rows() and ("ci", "true", 4) in new.counts.rows()
    assert "people" not in new.counts.overall  # a version 2 event counts no people


def test_version_3_carries_downloads_by_people() -> None:
    counts = dict(_package_day()["counts"])  # type: ignore[call-overload]
    counts["overall"] = {"with_mirrors": 12, "without_mirrors": 10, "people": 6}
    new = PackageDay.model_validate_json(json.dumps(_package_day(schema_version=3, counts=counts)))
    assert ("overall", "people", 6) in new.counts.rows()
    assert PackageDay.model_fields["schema_version"].default == 4  # what this build writes
    with pytest.raises(ValueError, match="unknown category 'robots'"):
        PackageDay.model_validate_json(
            json.dumps(_package_day(counts={"overall": {"with_mirrors": 1, "robots": 1}}))
        )


def test_version_4_carries_platforms_and_abis_and_older_versions_count_none() -> None:
    counts = dict(_package_day()["counts"])  # type: ignore[call-overload]
    counts.update(platform={"manylinux x86_64": 6, "sdist": 4}, abi={"cp313t": 2, "cp312": 4, "sdist": 4})
    new = PackageDay.model_validate_json(json.dumps(_package_day(schema_version=4, counts=counts)))
    rows = new.counts.rows()
    assert ("platform", "manylinux x86_64", 6) in rows and ("abi", "cp313t", 2) in rows
    for version in (1, 2, 3):
        old = PackageDay.model_validate_json(json.dumps(_package_day(schema_version=version)))
        assert old.counts.platform == {} and old.counts.abi == {}
    with pytest.raises(ValueError, match="unknown schema version 5"):
        PackageDay.model_validate_json(json.dumps(_package_day(schema_version=5)))


@pytest.mark.parametrize(
    ("dimension", "category"),
    [
        ("platform", "x" * 65),
        ("abi", "x" * 33),
        ("abi", ""),
        ("platform", "any\n"),
        ("ci", "yes"),
        ("version", ""),
        ("version", "1.0\n"),
        ("country", "x" * 17),
        ("installer", "\x7f"),
    ],
)
def test_new_dimensions_refuse_what_is_not_a_category(dimension: str, category: str) -> None:
    counts = dict(_package_day()["counts"])  # type: ignore[call-overload]
    counts[dimension] = {category: 1}
    with pytest.raises(ValueError, match="unknown category"):
        PackageDay.model_validate(_package_day(counts=counts))
