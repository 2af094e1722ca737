"""The pure half of the bulk export: store rows to a sorted long table, and the files written."""

from __future__ import annotations

import datetime as dt
import gzip
import io
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from services.aggregator.export_files import DayFiles, sweep
from services.aggregator.export_rows import extract, table_of
from shared.db.history import GROUPS, fold
from shared.db.layout import pack
from shared.exports import FORMATS, TEMP_PREFIX, read_sidecar, scan_index

DAY = dt.date(2026, 11, 17)
NAMES = {1: ("python_major", "3"), 2: ("installer", "pip"), 3: ("version", "1.0"), 4: ("country", 'DE,"x"')}


def open_row(
    package: str, with_m: int, without: int, people: int, cells: dict[int, int]
) -> tuple[object, ...]:
    packed = sorted(pack(i, n) for i, n in cells.items())
    groups: dict[str, list[int]] = {"cells": [], "details": [], "versions": []}
    for cell in packed:
        name = NAMES[cell >> 40][0]
        groups[
            "versions" if name == "version" else "details" if name in ("installer", "country") else "cells"
        ].append(cell)
    return (
        package,
        with_m,
        without,
        people,
        groups["cells"],
        groups["details"],
        groups["versions"],
        None,
        None,
        None,
        None,
    )


def expected(
    package: str, with_m: int, without: int, people: int, cells: dict[int, int]
) -> set[tuple[object, ...]]:
    rows = {
        (DAY, package, "overall", c, n)
        for c, n in (("with_mirrors", with_m), ("without_mirrors", without), ("people", people))
        if n
    }
    return rows | {(DAY, package, *NAMES[i], n) for i, n in cells.items() if n}


def test_open_and_compacted_rows_become_one_sorted_table() -> None:
    # b's day lives in a compacted month (other days of the month around it must not leak in).
    other = DAY - dt.timedelta(days=1)
    month = fold(DAY.replace(day=1), "b", None, [
        (DAY, 9, 7, ([pack(1, 7)], [pack(2, 5)], [pack(3, 2)]), 4),
        (other, 100, 90, ([pack(1, 90)], [], []), 80),
    ])  # fmt: skip
    assert month is not None
    month_row = ("b", 0, 0, 0, None, None, None, *month.blocks)
    rows = [
        open_row("c", 5, 5, 0, {1: 5, 4: 3}),
        month_row,
        open_row("a", 12, 10, 6, {1: 10, 2: 8, 3: 10}),
        ("tomb", 0, 0, 0, [], [], [], None, None, None, None),  # a tombstone: no rows
    ]
    cells = extract(rows, DAY)
    assert cells.holding == 3
    assert sorted(cells.category_ids()) == [1, 2, 3, 4]
    table = table_of(cells, NAMES, DAY)
    got = [tuple(r.values()) for r in table.to_pylist()]
    want = (
        expected("a", 12, 10, 6, {1: 10, 2: 8, 3: 10})
        | expected("b", 9, 7, 4, {1: 7, 2: 5, 3: 2})
        | expected("c", 5, 5, 0, {1: 5, 4: 3})
    )
    assert set(got) == want and len(got) == len(want)
    assert got == sorted(got, key=lambda r: (r[1], r[2], r[3]))
    assert len(GROUPS) == 4


def test_empty_chunk_gives_an_empty_table() -> None:
    table = table_of(extract([], DAY), NAMES, DAY)
    assert table.num_rows == 0


def test_files_are_written_whole_with_their_sidecar(tmp_path: Path) -> None:
    table = table_of(extract([open_row("a", 3, 2, 1, {4: 2}), open_row("b", 1, 1, 0, {})], DAY), NAMES, DAY)
    files = DayFiles(tmp_path, DAY)
    files.write(table)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(t.name for t in files.temps.values())
    sidecar = files.commit("run-1", 42, dt.datetime(2026, 11, 18, 3, tzinfo=dt.UTC), 2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["2026-11-17.csv.gz", "2026-11-17.json", "2026-11-17.parquet"]
    assert (
        read_sidecar(tmp_path, DAY) == sidecar
        and sidecar.holds("run-1", 42)
        and not sidecar.holds("run-1", 43)
    )
    assert pq.read_table(tmp_path / "2026-11-17.parquet").equals(table)
    text = gzip.decompress((tmp_path / "2026-11-17.csv.gz").read_bytes())
    assert (
        pacsv.read_csv(io.BytesIO(text)).column("downloads").to_pylist()
        == table.column("downloads").to_pylist()
    )
    assert b'"DE,""x"""' in text  # a comma and quotes in a category survive the CSV
    index = scan_index(tmp_path)
    assert [(e.day, e.format, e.rows) for e in index] == [(DAY, f, table.num_rows) for f in FORMATS]
    assert all(e.bytes == sidecar.files[e.format].bytes for e in index)


def test_abort_and_sweep_leave_no_temporary_file(tmp_path: Path) -> None:
    files = DayFiles(tmp_path, DAY)
    files.abort()
    assert list(tmp_path.iterdir()) == []
    left = tmp_path / f"{TEMP_PREFIX}abc-2026-11-17.parquet"
    left.write_bytes(b"half")
    assert sweep(tmp_path) == 0  # fresh: maybe another replica's export under way
    assert sweep(tmp_path, now=left.stat().st_mtime + 2 * 86400) == 1
    assert not left.exists()


@pytest.mark.parametrize("counts", [np.array([0, 0]), np.array([1, 0])])
def test_zero_counts_are_left_out(counts: np.ndarray) -> None:  # type: ignore[type-arg]
    row = open_row("a", int(counts[0]), int(counts[1]), 0, {})
    table = table_of(extract([row], DAY), NAMES, DAY)
    assert table.num_rows == int((counts > 0).sum())


def test_a_day_without_rows_still_has_a_header_and_a_schema(tmp_path: Path) -> None:
    files = DayFiles(tmp_path, DAY)
    sidecar = files.commit("run", 1, dt.datetime(2026, 11, 18, tzinfo=dt.UTC), 0)
    assert sidecar.rows == 0
    assert (
        gzip.decompress((tmp_path / "2026-11-17.csv.gz").read_bytes())
        == b'"day","package","dimension","category","downloads"\n'
    )
    assert pq.read_table(tmp_path / "2026-11-17.parquet").num_rows == 0
    first = (tmp_path / "2026-11-17.csv.gz").read_bytes()
    again = DayFiles(tmp_path, DAY)
    assert again.commit("run", 1, dt.datetime(2026, 11, 18, tzinfo=dt.UTC), 0) == sidecar
    assert (tmp_path / "2026-11-17.csv.gz").read_bytes() == first  # the same rows, the same bytes
