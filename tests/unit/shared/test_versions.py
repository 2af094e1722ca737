"""shared.versions: the grouping rule, and group sums checked against a plain reference."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.series import Matrix
from shared.versions import MAX_SPECS, Grouping, GroupingError, group_matrix, spec_of

MAJOR = Grouping("major")
MINOR = Grouping("minor")


@pytest.mark.parametrize(
    ("version", "major", "minor"),
    [
        ("2.1.0", "2", "2.1"),
        ("2", "2", "2.0"),
        ("2.0rc1", "2", "2.0"),  # a pre-release counts with the release it leads to
        ("2.0.0.dev3", "2", "2.0"),
        ("1.4.post2", "1", "1.4"),
        ("1.4+ubuntu1", "1", "1.4"),
        ("v3.2", "3", "3.2"),  # PEP 440 allows the leading v
        ("1!0.5", "1!0", "1!0.5"),  # the epoch stays in front
        ("2020.12.0", "2020", "2020.12"),
        ("null", "other", "other"),
        ("latest", "other", "other"),
        ("1.0-custom build", "other", "other"),
        ("other", "other", "other"),
    ],
)
def test_major_and_minor_labels(version: str, major: str, minor: str) -> None:
    assert MAJOR.label(version) == major
    assert MINOR.label(version) == minor


@pytest.mark.parametrize(
    ("spec", "version", "matches"),
    [
        ("<2", "1.9.9", True),
        ("<2", "2.0rc1", False),  # a release candidate of 2.0 is a 2, not a 1.x
        (">=2", "2.0rc1", True),
        (">=2", "2.0.0.dev1", True),
        (">=2,<3", "3.0a1", False),
        ("==2.0", "2.0rc1", True),
        (">=2.0rc1", "2.0b3", False),  # a specifier naming a pre-release compares as PEP 440 does
        (">=2.0rc1", "2.0rc2", True),
        ("==2.0rc1", "2.0rc1", True),
        ("~=1.4", "1.9", True),
        ("~=1.4", "2.0", False),
        ("==1.*", "1.0rc1", True),
        ("<=1.5", "1.5.post1", False),  # post-releases are left as they are
        (">1.5", "1.5.post1", False),  # PEP 440: > excludes post-releases of the version itself
    ],
)
def test_spec_matching(spec: str, version: str, matches: bool) -> None:
    label = spec_of(spec).label
    assert (Grouping(None, (spec_of(spec),)).label(version) == label) is matches


def test_first_spec_wins_then_group_then_other() -> None:
    grouping = Grouping.of("minor", ["<2", ">=2,<2.5"])
    assert grouping is not None
    assert [grouping.label(v) for v in ("1.2", "2.1", "2.4rc1", "2.5.0", "3.0", "nightly")] == [
        "<2", "<2.5,>=2", "<2.5,>=2", "2.5", "3.0", "other",
    ]  # fmt: skip
    alone = Grouping.of(None, ["<2"])
    assert alone is not None and alone.label("2.0") == "other" and alone.label("1.0") == "<2"


def test_no_group_no_spec_is_no_grouping_and_bad_values_name_their_parameter() -> None:
    assert Grouping.of(None, []) is None
    assert Grouping.of("MAJOR", []) == MAJOR
    for group, specs, parameter in (
        ("patch", [], "group"),
        (None, ["2.0"], "spec"),
        (None, ["=>2"], "spec"),
        (None, [">=2", "<<3"], "spec"),
        (None, [">=" + "1" * 200], "spec"),
        (None, [">=1"] * (MAX_SPECS + 1), "spec"),
        (None, [","], "spec"),
    ):
        with pytest.raises(GroupingError) as raised:
            Grouping.of(group, specs)
        assert raised.value.parameter == parameter and raised.value.message


VERSIONS = st.sampled_from(
    [
        "1.0",
        "1.2.3",
        "1.9rc1",
        "2.0.0",
        "2.0rc1",
        "2.1.dev0",
        "2.1",
        "3",
        "1!1.0",
        "null",
        "latest",
        "other",
        "0.0.1",
        "10.4.post1",
        "2.1+local",
    ]  # fmt: skip
)
GROUPINGS = st.sampled_from(
    [MAJOR, MINOR, Grouping.of(None, ["<2"]), Grouping.of("major", [">=2,<3", "~=1.0"])]
)


@settings(max_examples=60, deadline=None)
@given(
    categories=st.lists(VERSIONS, min_size=1, max_size=8, unique=True),
    span=st.integers(min_value=1, max_value=6),
    data=st.data(),
    grouping=GROUPINGS,
)
def test_groups_sum_to_the_total_and_to_their_members(
    categories: list[str], span: int, data: st.DataObject, grouping: Grouping
) -> None:
    counts = np.array(
        [data.draw(st.lists(st.integers(0, 10**9), min_size=span, max_size=span)) for _ in categories],
        dtype=np.int64,
    )
    categories = sorted(categories)
    matrix = Matrix(dt.date(2026, 1, 1), categories, counts)
    grouped = group_matrix(matrix, grouping)
    # Every day's downloads are still all there, in exactly one group.
    assert grouped.counts.sum(axis=0).tolist() == counts.sum(axis=0).tolist()
    assert grouped.categories == sorted(grouped.categories)
    # Each group is the plain sum of its members (a reference computation, day by day).
    for name, row in zip(grouped.categories, grouped.counts.tolist(), strict=True):
        members = [i for i, c in enumerate(categories) if grouping.label(c) == name]
        assert row == [sum(int(counts[i, k]) for i in members) for k in range(span)]
        assert any(row)  # groups without downloads are left out
