"""The source protocol every ingest source implements.

A source streams, for one UTC day, each package's counts in every dimension: tuples of
``(raw project name as the source saw it, {dimension: {category: downloads}})``. Sources never
hold a whole day in memory. Each normalised package should appear once per day (the SQL sources
group by the normalised name); the publisher merges consecutive spellings of one package and
refuses a package that comes back later (see :mod:`services.ingest.publisher`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Protocol

#: ``{dimension: {category: downloads}}`` for one package-day.
RawCounts = dict[str, dict[str, int]]


class Source(Protocol):
    """Anything that can stream one day's package counts."""

    name: str

    def iter_day(self, day: dt.date) -> AsyncIterator[tuple[str, RawCounts]]:
        """Yield ``(raw project name, counts)`` for every package downloaded on ``day``."""
        ...


class SourceError(RuntimeError):
    """A source could not produce a day (unreachable, refused by a cost guard, bad files)."""
