"""The packed cell format: exact round trips, a stable order, and loud refusals."""

from __future__ import annotations

import pytest

from shared.db.layout import (
    COLUMN_OF,
    MAX_CATEGORY_ID,
    MAX_DOWNLOADS,
    LayoutError,
    categories_of,
    decode,
    encode,
    pack,
    unpack,
)
from shared.events import DIMENSIONS


def test_pack_round_trips_at_the_limits() -> None:
    for category_id, downloads in ((1, 0), (1, 1), (MAX_CATEGORY_ID, MAX_DOWNLOADS), (12345, 987_654_321)):
        cell = pack(category_id, downloads)
        assert cell > 0
        assert unpack(cell) == (category_id, downloads)


@pytest.mark.parametrize(
    "category_id, downloads", [(0, 1), (MAX_CATEGORY_ID + 1, 1), (1, -1), (1, MAX_DOWNLOADS + 1)]
)
def test_pack_refuses_what_does_not_fit(category_id: int, downloads: int) -> None:
    with pytest.raises(LayoutError):
        pack(category_id, downloads)


def test_encode_then_decode_gives_the_non_zero_rows_back() -> None:
    rows = [
        ("overall", "with_mirrors", 120),
        ("overall", "without_mirrors", 100),
        ("python_minor", "3.12", 60),
        ("python_minor", "2.7", 40),
        ("python_major", "3", 60),
        ("system", "Linux", 0),  # zero: not stored
        ("system", "null", 100),
    ]
    keys = sorted(categories_of(rows))
    assert ("system", "Linux") not in keys and ("overall", "with_mirrors") not in keys
    ids = {key: i for i, key in enumerate(reversed(keys), start=7)}
    packed = encode(rows, ids)
    assert packed.cells == sorted(packed.cells)
    assert packed.rows == 6
    names = {i: key for key, i in ids.items()}
    back = decode(packed.with_mirrors, packed.without_mirrors, packed.cells, names)
    assert sorted(back) == sorted(r for r in rows if r[2] > 0)


def test_a_package_day_with_only_mirrors_keeps_both_overall_counts_apart() -> None:
    packed = encode([("overall", "with_mirrors", 5)], {})
    assert (packed.with_mirrors, packed.without_mirrors, packed.cells, packed.rows) == (5, 0, [], 1)


def test_unknown_overall_category_is_refused() -> None:
    with pytest.raises(LayoutError):
        encode([("overall", "sometimes_mirrors", 5)], {})


def test_events_refuse_counts_that_storage_could_not_hold() -> None:
    from pydantic import ValidationError

    from shared.events import MAX_COUNT, Counts

    assert MAX_COUNT == MAX_DOWNLOADS
    Counts(overall={"with_mirrors": MAX_COUNT})
    with pytest.raises(ValidationError, match="above"):
        Counts(python_minor={"3.12": MAX_COUNT + 1})


def test_encoding_from_dimensions_equals_encoding_from_rows_and_refuses_the_same() -> None:
    from shared.db.layout import LayoutError, dimension_keys, encode, encode_dimensions
    from shared.events import Counts

    counts = Counts(
        overall={"with_mirrors": 12, "without_mirrors": 10},
        python_minor={"3.12": 9, "null": 1},
        version={"2.0": 6, "1.9": 4, "0.1": 0},
        installer={"pip": 10, "bandersnatch": 2},
        country={"US": 7, "DE": 3},
        ci={"true": 10},
    )
    keys = dimension_keys(counts.dimensions())
    assert ("version", "0.1") not in keys and ("overall", "with_mirrors") not in keys
    ids = {key: i + 1 for i, key in enumerate(sorted(keys, reverse=True))}
    packed = encode_dimensions(counts.dimensions(), ids)
    assert packed == encode(counts.rows(), ids)
    assert len(packed.cells) == 2 and len(packed.details) == 5 and len(packed.versions) == 2
    assert all(a == sorted(a) for a in (packed.cells, packed.details, packed.versions))
    with pytest.raises(LayoutError):
        encode_dimensions([("overall", {"everything": 3})], ids)
    with pytest.raises(LayoutError):
        encode_dimensions([("cpu", {"x86_64": 3})], ids)
    with pytest.raises(LayoutError):
        encode_dimensions([("python_minor", {"3.12": 1 << 40})], {("python_minor", "3.12"): 1})


def test_every_event_dimension_has_an_array_and_platforms_share_the_details() -> None:
    assert set(COLUMN_OF) == set(DIMENSIONS) - {"overall"}
    # a few cells each (shared.platforms names a few dozen at most): beside installer and file_type,
    # so /python_minor never decodes them and no migration was needed (docs/architecture.md)
    assert COLUMN_OF["platform"] == COLUMN_OF["abi"] == COLUMN_OF["file_type"] == "details"
    ids = {("platform", "manylinux x86_64"): 7, ("abi", "cp313t"): 8, ("python_minor", "3.13"): 3}
    packed = encode(
        [("platform", "manylinux x86_64", 5), ("abi", "cp313t", 2), ("python_minor", "3.13", 7)], ids
    )
    assert packed.details == [pack(7, 5), pack(8, 2)] and packed.cells == [pack(3, 7)]
