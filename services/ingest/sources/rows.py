"""Turning the query's long rows into package-days, and loading the query text.

Owns the pure part shared by the two SQL sources: ``query.sql`` (read from the package, never
string-formatted), the default mirror list, and :func:`group_rows`, which folds rows ordered by
package into ``(package, counts)`` pairs without holding more than one package in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from importlib import resources
from typing import Any

from .base import RawCounts

#: Installers whose downloads only ``with_mirrors`` counts (contracts.md section 2).
DEFAULT_MIRRORS = ("bandersnatch", "z3c.pypimirror", "Artifactory", "devpi")


def query_text() -> str:
    """The BigQuery standard SQL of one day's counts."""
    return resources.files("services.ingest").joinpath("query.sql").read_text(encoding="utf-8")


Row = tuple[Any, Any, Any, Any]


def group_rows(rows: Iterable[Row]) -> Iterator[tuple[str, RawCounts]]:
    """Fold ``(package, dimension, category, downloads)`` rows ordered by package into package-days."""
    current: str | None = None
    counts: RawCounts = {}
    for package, dimension, category, downloads in rows:
        if package != current:
            if current is not None:
                yield current, counts
            current, counts = package, {}
        values = counts.setdefault(str(dimension), {})
        values[str(category)] = values.get(str(category), 0) + int(downloads)
    if current is not None:
        yield current, counts


async def group_row_batches(batches: AsyncIterator[list[Row]]) -> AsyncIterator[tuple[str, RawCounts]]:
    """:func:`group_rows` over batches arriving asynchronously (pages, fetchmany)."""
    current: str | None = None
    counts: RawCounts = {}
    async for batch in batches:
        for package, dimension, category, downloads in batch:
            if package != current:
                if current is not None:
                    yield current, counts
                current, counts = package, {}
            values = counts.setdefault(str(dimension), {})
            values[str(category)] = values.get(str(category), 0) + int(downloads)
    if current is not None:
        yield current, counts
