"""shared.series's matrices of every dimension at once (the package page's read) against one
dimension at a time (frame_matrix, what the api reads), and the points read from them against
the points as they were read before: the same categories and counts."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import series
from shared.db.history import Frame, encode_block, series_of
from shared.db.layout import Key

MONTH = dt.date(2026, 1, 1)
NAMES: dict[int, Key] = {
    1: ("python_minor", "3.9"),
    2: ("python_minor", "3.12"),
    3: ("system", "Linux"),
    4: ("python_minor", "null"),
    5: ("system", "Darwin"),
    6: ("python_major", "3"),
}
counts = st.integers(min_value=0, max_value=5)


def frame_of(
    block_rows: list[list[int]], open_days: dict[int, list[tuple[int, int]]], ids: list[int]
) -> Frame:
    """A compacted month of ``ids`` with open days replacing some of its days whole."""
    frame = Frame(MONTH, dt.date(2026, 1, 31))
    frame.add_block(MONTH, encode_block(np.array(ids, dtype=np.int64), np.array(block_rows, dtype=np.int64)))
    for offset, cells in sorted(open_days.items()):
        packed = sorted({cid: n for cid, n in cells if n > 0 and cid in ids}.items())
        frame.add_cells(MONTH + dt.timedelta(days=offset), [cid << 40 | n for cid, n in packed])
    return frame


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(counts, min_size=31, max_size=31), min_size=6, max_size=6),
    st.lists(st.lists(counts, min_size=31, max_size=31), min_size=3, max_size=3),
    st.dictionaries(
        st.integers(0, 30), st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), max_size=4)
    ),
)
def test_every_dimension_at_once_is_each_dimension_alone(
    cells: list[list[int]], overall: list[list[int]], open_days: dict[int, list[tuple[int, int]]]
) -> None:
    frames = [frame_of(overall, open_days, [0, 1, 2]), frame_of(cells, open_days, list(NAMES))]
    found = series._matrices(frames, NAMES)
    for dimension in ("python_minor", "system", "python_major"):
        alone = series.frame_matrix(frames[1], NAMES, dimension)
        if alone.categories:
            assert found[dimension].start == alone.start and found[dimension].categories == alone.categories
            assert found[dimension].counts.tolist() == alone.counts.tolist()
        else:
            assert dimension not in found
    mirrors = series.frame_matrix(frames[0], series.OVERALL_NAMES, "overall")
    kept = [i for i, c in enumerate(mirrors.categories) if c != "people"]  # only who=people reads it
    if kept:
        assert found["overall"].categories == [mirrors.categories[i] for i in kept]
        assert found["overall"].counts.tolist() == mirrors.counts[kept].tolist()
    else:
        assert "overall" not in found
    assert series._dimensions(frames, NAMES) == points_before(frames, NAMES)


def points_before(frames: list[Frame], names: dict[int, Key]) -> dict[str, list[series.Point]]:
    """Every dimension's points as series_window built them before it read matrices."""
    out: dict[str, list[series.Point]] = {}
    for index, frame in enumerate(frames):
        ids, counts = frame.matrix()
        table = series.OVERALL_NAMES if index == 0 else names
        for cid, days in series_of(ids, counts, frame.days()):
            dimension, category = table[cid]
            if not (index == 0 and category == "people"):
                out.setdefault(dimension, []).extend(series.Point(category, d, n) for d, n in days)
    for points in out.values():
        points.sort(key=lambda p: p.category)
    return out
