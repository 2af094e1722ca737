"""Turning the query's long rows into package-days, and loading the query texts.

Owns the pure part shared by the two SQL sources: ``query.sql`` and ``first_day.sql`` (read from
the package, never string-formatted), the default mirror list, :func:`group_rows`, which folds
rows ordered by package into ``(package, counts)`` pairs without holding more than one package in
memory, naming the platform and ABI tags the query cuts out of file names readably on the way
(shared/platforms.py: the one rule, applied once per row of the query's output), and
:func:`partition_day`, the day a ``YYYYMMDD`` partition id names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Iterator
from importlib import resources
from typing import Any

from shared.events import DEFAULT_MIRRORS
from shared.platforms import NORMALISE

from .base import RawCounts, SourceError

__all__ = [
    "DEFAULT_MIRRORS", "FIRST_DAY_TABLE", "Row", "first_day_text", "group_row_batches", "group_rows",
    "partition_day", "query_text",
]  # fmt: skip

#: The table whose first partition is the first day of history (``@table`` of first_day.sql).
FIRST_DAY_TABLE = "file_downloads"


def query_text() -> str:
    """The BigQuery standard SQL of one day's counts."""
    return resources.files("services.ingest").joinpath("query.sql").read_text(encoding="utf-8")


def first_day_text() -> str:
    """The BigQuery standard SQL of the table's first partition (``first_day.sql``)."""
    return resources.files("services.ingest").joinpath("first_day.sql").read_text(encoding="utf-8")


def partition_day(partition_id: object) -> dt.date:
    """The day of a daily partition id (``YYYYMMDD``); :class:`SourceError` when there is none."""
    if partition_id is None:
        raise SourceError(f"{FIRST_DAY_TABLE} has no partition with rows: no first day")
    text = str(partition_id)
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError(text)
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise SourceError(f"not a daily partition id: {text!r}") from exc


Row = tuple[Any, Any, Any, Any]


class _Folder:
    """Folds rows ordered by package into package-days, one row at a time."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.counts: RawCounts = {}

    def add(self, row: Row) -> tuple[str, RawCounts] | None:
        """Add a row; returns the previous package-day when this row starts a new package."""
        package, dimension, category, downloads = row
        done = None
        if package != self.current:
            if self.current is not None:
                done = (self.current, self.counts)
            self.current, self.counts = package, {}
        dimension, category = str(dimension), str(category)
        name = NORMALISE.get(dimension)
        if name is not None:
            category = name(category)  # several raw tags may name one category: summed
        values = self.counts.setdefault(dimension, {})
        values[category] = values.get(category, 0) + int(downloads)
        return done

    def finish(self) -> tuple[str, RawCounts] | None:
        return (self.current, self.counts) if self.current is not None else None


def group_rows(rows: Iterable[Row]) -> Iterator[tuple[str, RawCounts]]:
    """Fold ``(package, dimension, category, downloads)`` rows ordered by package into package-days."""
    folder = _Folder()
    for row in rows:
        if (done := folder.add(row)) is not None:
            yield done
    if (last := folder.finish()) is not None:
        yield last


async def group_row_batches(batches: AsyncIterator[list[Row]]) -> AsyncIterator[tuple[str, RawCounts]]:
    """:func:`group_rows` over batches arriving asynchronously (pages, fetchmany)."""
    folder = _Folder()
    async for batch in batches:
        for row in batch:
            if (done := folder.add(row)) is not None:
                yield done
    if (last := folder.finish()) is not None:
        yield last
