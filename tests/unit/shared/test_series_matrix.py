"""shared.series.Matrix, the columnar form the API writes bodies from, against plain per-point
reference computations: the same series, the same top-N, the same frame merge."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import series
from shared.db.history import Frame, encode_block

START = dt.date(2025, 12, 28)
SPAN = 70  # across a month and a year boundary
CATEGORIES = ("3.10", "3.12", "3.9", "other", "null")

counts = st.integers(min_value=0, max_value=5)


@st.composite
def groups_of(draw: st.DrawFn) -> series.Groups:
    names = sorted(draw(st.sets(st.sampled_from(CATEGORIES), max_size=len(CATEGORIES))))
    out: series.Groups = []
    for name in names:
        offsets = sorted(draw(st.sets(st.integers(0, SPAN - 1), min_size=1, max_size=12)))
        days = [(START + dt.timedelta(days=k), draw(st.integers(1, 10**12))) for k in offsets]
        out.append((name, days))
    return out


def top_reference(groups: series.Groups, n: int, other: str = "other") -> series.Groups:
    """/version?limit=N by hand: the n largest categories (ties by name), the rest summed per day."""
    ranked = sorted((-sum(d for _, d in days), c) for c, days in groups if c != other)
    keep = {c for _, c in ranked[:n]}
    rest: dict[dt.date, int] = {}
    out = [(c, days) for c, days in groups if c in keep]
    for c, days in groups:
        if c not in keep:
            for day, d in days:
                rest[day] = rest.get(day, 0) + d
    if rest:
        out.append((other, sorted(rest.items())))
    return sorted(out)


@settings(max_examples=200, deadline=None)
@given(groups_of(), st.integers(0, 4))
def test_a_matrix_holds_the_same_series_and_top_n_as_its_groups(groups: series.Groups, n: int) -> None:
    matrix = series.Matrix.of_groups(groups)
    assert matrix.groups() == groups
    assert series.top_matrix(matrix, n).groups() == top_reference(groups, n)


def test_the_empty_matrix_has_no_series() -> None:
    empty = series.Matrix.empty()
    assert empty.span == 0 and empty.groups() == [] and series.top_matrix(empty, 3).groups() == []


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(counts, min_size=31, max_size=31), min_size=1, max_size=4),
    st.dictionaries(
        st.integers(0, 30), st.lists(st.tuples(st.integers(1, 4), st.integers(0, 9)), max_size=3)
    ),
)
def test_frame_matrix_is_frame_groups(
    block_rows: list[list[int]], open_days: dict[int, list[tuple[int, int]]]
) -> None:
    """A compacted month with open days replacing some of its days whole (empty: a tombstone),
    some of which leave a category without any download."""
    month = dt.date(2026, 1, 1)
    ids = np.arange(1, len(block_rows) + 1, dtype=np.int64)
    frame = Frame(month, dt.date(2026, 1, 31))
    frame.add_block(month, encode_block(ids, np.array(block_rows, dtype=np.int64)))
    for offset, cells in sorted(open_days.items()):
        packed = sorted({cid: n for cid, n in cells if n > 0}.items())
        frame.add_cells(month + dt.timedelta(days=offset), [cid << 40 | n for cid, n in packed])
    names = {
        cid: ("python_minor", name)
        for cid, name in zip(range(1, 5), ("3.9", "3.12", "3.10", "null"), strict=True)
    }
    names[7] = ("system", "Linux")
    by_name = {cid: name for cid, (_, name) in names.items() if cid < 5}
    days: dict[str, list[tuple[dt.date, int]]] = {}
    for k in range(31):  # by hand: an open day's cells replace the block's column k whole
        column = (
            {c: n for c, n in open_days[k] if n > 0}
            if k in open_days
            else {i + 1: row[k] for i, row in enumerate(block_rows)}
        )
        for cid, n in sorted(column.items()):
            if n > 0:
                days.setdefault(by_name[cid], []).append((month + dt.timedelta(days=k), n))
    for category in (None, "3.12"):
        expected = sorted((c, d) for c, d in days.items() if category in (None, c))
        assert series.frame_matrix(frame, names, "python_minor", category).groups() == expected
