"""The synthetic source: deterministic, internally consistent, realistic in shape."""

from __future__ import annotations

import datetime as dt
import random

from services.ingest.sources.synthetic import SyntheticSource, package_name, raw_name
from services.ingest.sources.synthetic_details import Details
from shared.events import Counts
from shared.packages import is_normalized, normalize, validate

MONDAY = dt.date(2024, 6, 3)
SUNDAY = dt.date(2024, 6, 9)


def test_same_seed_and_day_give_the_same_output_and_others_differ() -> None:
    a = list(SyntheticSource(500, seed=1).generate(MONDAY))
    assert a == list(SyntheticSource(500, seed=1).generate(MONDAY))
    assert a != list(SyntheticSource(500, seed=2).generate(MONDAY))
    assert a != list(SyntheticSource(500, seed=1).generate(MONDAY + dt.timedelta(days=1)))


def test_names_are_valid_unique_after_normalisation_and_often_not_normalised() -> None:
    raws = [raw_name(i) for i in range(200_000)]
    normalised = [validate(r) for r in raws]
    assert len(set(normalised)) == len(raws)
    assert normalised[:1000] == [package_name(i) for i in range(1000)]
    odd = sum(1 for r in raws[:10_000] if not is_normalized(r))
    assert 2_000 < odd < 6_000
    assert any("_" in r for r in raws[:1000]) and any("." in r for r in raws[:1000])
    assert any(r != r.lower() for r in raws[:100])


def test_every_package_day_is_consistent_across_dimensions() -> None:
    for raw, counts in SyntheticSource(3000, seed=5).generate(MONDAY):
        Counts(**counts)  # valid categories, no negative counts
        overall = counts["overall"]
        assert overall["with_mirrors"] >= overall.get("without_mirrors", 0) >= 0
        without = overall.get("without_mirrors", 0)
        for dimension in (
            "python_major", "python_minor", "system", "version", "country", "file_type", "ci", "platform", "abi",
        ):  # fmt: skip
            assert sum(counts.get(dimension, {}).values()) == without, (raw, dimension)
        # installers count every download, mirrors and the NULL installer included
        assert sum(counts["installer"].values()) == overall["with_mirrors"], raw
        assert all(n > 0 for values in counts.values() for n in values.values())


def test_popularity_is_heavy_tailed_and_weekends_are_quieter() -> None:
    source = SyntheticSource(20_000, seed=0)
    days = {raw: c["overall"]["with_mirrors"] for raw, c in source.generate(MONDAY)}
    top = sorted(days.values(), reverse=True)
    assert top[0] > 5_000_000 and top[-1] < 1000
    assert sum(top[:100]) > 0.5 * sum(top)
    weekday = source.expected_totals(MONDAY)["with_mirrors"]
    weekend = source.expected_totals(SUNDAY)["with_mirrors"]
    assert weekend < 0.8 * weekday


def test_mix_has_mirrors_null_python_and_every_os() -> None:
    totals: dict[tuple[str, str], int] = {}
    for _pkg, dimension, category, n in SyntheticSource(2000, seed=0).expected_rows(MONDAY):
        totals[dimension, category] = totals.get((dimension, category), 0) + n
    with_m, without = totals["overall", "with_mirrors"], totals["overall", "without_mirrors"]
    assert 0.005 < 1 - without / with_m < 0.06
    for os_name in ("Linux", "Windows", "Darwin", "other", "null"):
        assert totals["system", os_name] > 0
    assert totals["python_major", "null"] == totals["python_minor", "null"] > 0
    assert totals["python_major", "2"] == totals["python_minor", "2.7"] > 0
    assert totals["system", "Linux"] > totals["system", "Windows"] > totals["system", "other"]


def test_expected_rows_and_totals_match_what_is_generated() -> None:
    source = SyntheticSource(1000, seed=9)
    rows = list(source.expected_rows(MONDAY))
    assert all(is_normalized(p) for p, *_ in rows)
    generated = {normalize(raw): counts for raw, counts in source.generate(MONDAY)}
    assert len(rows) == sum(len(v) for c in generated.values() for v in c.values())
    totals = source.expected_totals(MONDAY)
    assert totals["with_mirrors"] == sum(n for _p, d, c, n in rows if (d, c) == ("overall", "with_mirrors"))
    assert totals["without_mirrors"] == sum(
        n for _p, d, c, n in rows if (d, c) == ("overall", "without_mirrors")
    )


def test_python_mix_drifts_towards_newer_versions() -> None:
    def share(day: dt.date) -> float:
        rows = list(SyntheticSource(500, seed=0).expected_rows(day))
        new = sum(n for _p, d, c, n in rows if d == "python_minor" and c in ("3.12", "3.13"))
        return new / sum(n for _p, d, c, n in rows if d == "python_minor")

    assert share(dt.date(2025, 6, 2)) > share(dt.date(2024, 6, 3)) * 1.1


def test_package_days_encoded_on_the_hot_path_equal_fully_validated_events() -> None:
    from services.ingest.validation import check_run_fields, encode_package_day
    from shared.events import PackageDay, Subjects, decode_event

    check_run_fields("run-1", "synthetic")
    subjects = Subjects()
    sources = [
        SyntheticSource(300, seed=4).generate(MONDAY),
        [("Mirror_Only", {"overall": {"with_mirrors": 2}})],
    ]
    for raw, counts in (item for items in sources for item in items):
        package = validate(raw)
        fast = encode_package_day(MONDAY, package, counts, "run-1", "synthetic")
        slow = PackageDay(
            day=MONDAY, package=package, counts=Counts(**counts), run_id="run-1", source="synthetic"
        )
        assert fast.payload == slow.to_bytes()
        assert fast.msg_id == slow.msg_id
        assert fast.rows == len(slow.counts.rows())
        assert fast.downloads_with_mirrors == slow.counts.overall["with_mirrors"]
        assert decode_event(subjects.daily(MONDAY), fast.payload, subjects) == slow


def test_the_top_of_the_ranking_has_names_users_know() -> None:
    top = [validate(raw) for raw, _ in SyntheticSource(10, seed=0).generate(MONDAY)]
    assert top[:4] == ["boto3", "urllib3", "botocore", "requests"]


def test_newer_versions_take_over_and_popular_packages_see_dozens() -> None:
    source = SyntheticSource(3000, seed=0)
    first = dict(source.generate(MONDAY))
    later = dict(source.generate(MONDAY + dt.timedelta(days=120)))
    boto3 = first["boto3"]["version"]
    assert 15 <= len(boto3) <= 60
    # the versions downloaded most four months later are releases that did not exist before
    top_later = max(later["boto3"]["version"].items(), key=lambda kv: kv[1])[0]
    assert top_later not in boto3
    # smaller packages see fewer
    tail = [c.get("version", {}) for c in first.values()][-20:]
    assert all(len(v) < len(boto3) for v in tail)
    tiny = Details(MONDAY, random.Random(0).random).versions(10_000, 40)
    assert 0 < len(tiny) <= 12 and sum(tiny.values()) == 40


def test_installers_countries_file_types_and_ci_look_like_pypi() -> None:
    totals: dict[tuple[str, str], int] = {}
    for _pkg, dimension, category, n in SyntheticSource(3000, seed=0).expected_rows(MONDAY):
        totals[dimension, category] = totals.get((dimension, category), 0) + n
    installers = {c: n for (d, c), n in totals.items() if d == "installer"}
    assert max(installers, key=lambda c: installers[c]) == "pip"
    assert {"uv", "poetry", "bandersnatch", "null"} <= installers.keys()
    assert sum(installers.values()) == totals["overall", "with_mirrors"]
    countries = sorted(((n, c) for (d, c), n in totals.items() if d == "country"), reverse=True)
    assert countries[0][1] == "US" and len(countries) > 30
    assert countries[0][0] > 0.2 * sum(n for n, _ in countries)  # heavy head
    wheels = totals["file_type", "bdist_wheel"] / totals["overall", "without_mirrors"]
    assert 0.8 < wheels < 0.95
    ci = totals["ci", "true"] / totals["overall", "without_mirrors"]
    assert 0.1 < ci < 0.5
    uv_2024 = sum(n for (d, c), n in totals.items() if (d, c) == ("installer", "uv"))
    later = SyntheticSource(3000, seed=0).expected_rows(dt.date(2026, 6, 1))
    uv_2026 = sum(n for _p, d, c, n in later if (d, c) == ("installer", "uv"))
    assert uv_2026 > 3 * uv_2024  # uv's share rises through the years


def test_platforms_and_abis_follow_the_file_types_and_show_free_threaded_builds() -> None:
    def totals(day: dt.date) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        for _pkg, dimension, category, n in SyntheticSource(2000, seed=0).expected_rows(day):
            found[dimension, category] = found.get((dimension, category), 0) + n
        return found

    later = totals(dt.date(2026, 6, 1))
    assert later["platform", "sdist"] == later["abi", "sdist"] == later["file_type", "sdist"]
    assert later["platform", "other"] == later["abi", "other"] == later["file_type", "bdist_egg"]
    wheels = later["file_type", "bdist_wheel"]
    assert sum(n for (d, c), n in later.items() if d == "platform" and c not in ("sdist", "other")) == wheels
    assert later["platform", "any"] == later["abi", "none"] > later["platform", "manylinux x86_64"]
    assert later["platform", "manylinux x86_64"] > later["platform", "Windows amd64"] > 0
    assert later["platform", "macOS arm64"] > later["platform", "macOS x86_64"] > 0
    assert 0 < later["abi", "cp313t"] < later["abi", "cp313"] and later["abi", "abi3"] > 0
    before = totals(dt.date(2024, 6, 3))  # before Python 3.13: no free-threaded build
    assert ("abi", "cp313t") not in before and before["abi", "cp312"] > 0


def test_platforms_draw_nothing_from_the_random_stream() -> None:
    """Adding platform and abi moved no other synthetic number: Details.platforms draws nothing."""
    draws = 0

    def counting() -> float:
        nonlocal draws
        draws += 1
        return 0.5

    details = Details(MONDAY, counting)
    details.platforms(14, True, {"bdist_wheel": 90, "sdist": 9, "bdist_egg": 1}, {"3.12": 60, "3.13": 40})
    details.platforms(3, False, {"bdist_wheel": 5}, {"3.12": 5})
    assert draws == 0
