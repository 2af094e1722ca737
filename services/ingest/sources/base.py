"""The source protocol every ingest source implements.

A source streams, for one UTC day, each package's counts in every dimension: tuples of
``(raw project name as the source saw it, {dimension: {category: downloads}})``. Sources never
hold a whole day in memory. Each normalised package should appear once per day (the SQL sources
group by the normalised name); the publisher merges consecutive spellings of one package and
refuses a package that comes back later (see :mod:`services.ingest.publisher`).

A source that knows where its history begins also has ``first_day()`` (:class:`HasFirstDay`):
BigQuery asks the table's partitions, raw the export's oldest row, synthetic its setting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

#: ``{dimension: {category: downloads}}`` for one package-day.
RawCounts = dict[str, dict[str, int]]


class Source(Protocol):
    """Anything that can stream one day's package counts."""

    name: str

    def iter_day(self, day: dt.date) -> AsyncIterator[tuple[str, RawCounts]]:
        """Yield ``(raw project name, counts)`` for every package downloaded on ``day``."""
        ...


@runtime_checkable
class HasFirstDay(Protocol):
    """A source that can say the first day it has (a blocking call: run it in a thread)."""

    def first_day(self) -> dt.date: ...


class SourceError(RuntimeError):
    """A source could not produce a day (unreachable, refused by a cost guard, bad files)."""
