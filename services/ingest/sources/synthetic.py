"""The synthetic source: a deterministic, realistic day of PyPI downloads without BigQuery.

Owns the generator used by the one-command demo, the tests and the benchmarks. For a given
``(seed, day)`` it always yields the same package-days, and it can say exactly what it produced
(:meth:`SyntheticSource.expected_rows`, :meth:`SyntheticSource.expected_totals`).

What makes it realistic: a heavy-tailed popularity over N packages (a flattened power law, from
~20M downloads a day for the top package to a handful for the tail, with tail packages missing on
some days), well-known names at the top of the ranking (``WELL_KNOWN``, in shared.synthetic_catalog
with the release histories the fake PyPI also reads) and invented ones
below, raw names that need PEP 503 normalisation (upper case, ``_`` and ``.`` separators), a
weekday/weekend rhythm, a Python minor mix that drifts towards newer versions over time, an OS
mix with ``other`` and ``null``, and a share of mirror / NULL-installer downloads that only
``with_mirrors`` (and the installer breakdown) counts. Names are built so that no two raw names
normalise to the same package. The dimensions beyond pypistats.org come from
:mod:`.synthetic_details`: a release history per package (newer versions taking over), installers
(uv rising), heavy-tailed countries, wheels dominant, a CI share, the downloads by people
that those imply, and the platforms and ABIs of the files (free-threaded builds among them).
Two packages rise and one is new every 60 days (:func:`rise`), for the trending page.

Pure Python, one :class:`random.Random` stream per day, consumed in package order; a
200k-package day takes a few seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
from collections.abc import AsyncIterator, Iterator

from shared.packages import normalize
from shared.synthetic_catalog import WELL_KNOWN, package_code, package_name

from .base import RawCounts
from .synthetic_details import Details, cumulative, split

_MINORS = ("3.13", "3.12", "3.11", "3.10", "3.9", "3.8", "3.7", "3.6", "2.7", "null")
_MAJOR_OF = {m: ("null" if m == "null" else m.split(".", 1)[0]) for m in _MINORS}
# Python minor weight templates (newest first); a package keeps its template for life.
_MINOR_TEMPLATES = (
    (6.0, 22.0, 24.0, 16.0, 12.0, 6.0, 3.0, 1.0, 1.0, 9.0),  # mainstream
    (2.0, 12.0, 20.0, 20.0, 18.0, 12.0, 6.0, 2.0, 2.0, 6.0),  # conservative
    (14.0, 34.0, 24.0, 10.0, 4.0, 2.0, 0.5, 0.2, 0.3, 11.0),  # modern
    (0.5, 3.0, 6.0, 10.0, 12.0, 14.0, 14.0, 8.0, 28.0, 4.5),  # legacy
)
_SYSTEMS = ("Linux", "Windows", "Darwin", "other", "null")
_SYSTEM_TEMPLATES = (
    (70.0, 11.0, 8.0, 1.0, 10.0),
    (55.0, 25.0, 12.0, 0.5, 7.5),
    (82.0, 4.0, 5.0, 2.0, 7.0),
)
_WEEKDAY_FACTOR = (1.0, 1.02, 1.03, 1.0, 0.94, 0.7, 0.66)
_EPOCH = dt.date(2024, 1, 1)
#: Where the synthetic history begins by default (its release histories start in 2020).
FIRST_DAY = dt.date(2020, 1, 1)

TOP_DOWNLOADS = 20_000_000.0
_HEAD = 20.0
_SLOPE = 1.6
_YIELD_EVERY = 2000
#: Packages on the rise: (index, phase offset in days). Each grows 6-fold over a cycle of
#: :data:`_RISE_DAYS` days and falls back at its end; the offsets are half a cycle apart, so on any
#: day one of them has risen for at least the 56 days trending compares (the trending page).
_RISING = ((150, 0), (250, 91))
_RISE_DAYS = 182
_RISE = 6.0
#: A package that is new every :data:`_NEW_DAYS` days: index :data:`_NEW_INDEX` is published under a
#: new name each cycle (``fresh-<code of the cycle>``), doubling over its cycle, so "new and rising"
#: always has a package first seen within 90 days.
_NEW_INDEX = 400
_NEW_DAYS = 60


#: Well-known packages that ship compiled extension modules (platform wheels).
_BINARY = frozenset(
    WELL_KNOWN.index(name)
    for name in (
        "numpy", "cryptography", "pyyaml", "cffi", "pydantic-core", "pandas", "protobuf", "markupsafe",
        "wrapt", "pyarrow", "psutil", "multidict", "yarl", "frozenlist", "grpcio", "scipy", "greenlet",
        "lxml", "pillow", "msgpack", "aiohttp", "charset-normalizer", "pynacl", "coverage", "sqlalchemy",
    )
)  # fmt: skip


def _binary(index: int) -> bool:
    """Whether package ``index`` ships platform wheels (the well-known ones, one in five below)."""
    return index in _BINARY or (index >= len(WELL_KNOWN) and index % 5 == 2)


def rise(index: int, day: dt.date) -> float:
    """How many times its usual downloads package ``index`` has on ``day`` (1 unless rising or new).

    Only ever at least 1 and only for packages of tens of thousands of downloads a day, so every
    random draw of the day stays the same (the counts only scale; see :meth:`SyntheticSource.generate`).
    """
    for rising, offset in _RISING:
        if index == rising:
            return float(_RISE ** (((day.toordinal() + offset) % _RISE_DAYS) / _RISE_DAYS))
    if index == _NEW_INDEX:
        return 1.0 + (day.toordinal() % _NEW_DAYS) / _NEW_DAYS
    return 1.0


def fresh_name(day: dt.date) -> str:
    """The name package :data:`_NEW_INDEX` has on ``day`` (a new one every :data:`_NEW_DAYS` days;
    no other name starts with ``fresh``)."""
    return f"fresh-{package_code(day.toordinal() // _NEW_DAYS)}"


def raw_name(index: int) -> str:
    """How the source spells package ``index``: often not normalised."""
    name = package_name(index)
    style = (index // 7) % 10
    if style == 6:
        return name.replace("-", "_")
    if style == 7:
        return "-".join(part.capitalize() for part in name.split("-"))
    if style == 8:
        return name.replace("-", ".")
    if style == 9:
        return name.upper().replace("-", "_")
    return name


class SyntheticSource:
    """Deterministic for ``(seed, day)``; ``packages`` is the size of the package universe.

    ``first`` is the day its history is said to begin (``SYNTHETIC_FIRST_DAY``): what a backfill
    from the first day starts from. It generates any day asked for.
    """

    name = "synthetic"

    def __init__(self, packages: int, seed: int = 0, first: dt.date = FIRST_DAY) -> None:
        if packages < 1:
            raise ValueError("packages must be at least 1")
        self.packages = packages
        self.seed = seed
        self.first = first

    def first_day(self) -> dt.date:
        return self.first

    def _minor_tables(self, day: dt.date) -> list[tuple[float, ...]]:
        # Newer minors gain share as time passes (about x2 a year relative to the oldest).
        years = (day - _EPOCH).days / 365.0
        drift = [
            math.exp(0.7 * years * (len(_MINORS) - 2 - k) / (len(_MINORS) - 2)) for k in range(len(_MINORS))
        ]
        drift[-1] = 1.0  # the null share does not drift
        return [cumulative(tuple(w * d for w, d in zip(t, drift, strict=True))) for t in _MINOR_TEMPLATES]

    def generate(self, day: dt.date) -> Iterator[tuple[str, RawCounts]]:
        """The day's package-days, synchronously (the core of :meth:`iter_day`)."""
        rng = random.Random(f"synthetic:{self.seed}:{day.isoformat()}")
        rand = rng.random
        level = _WEEKDAY_FACTOR[day.weekday()] * (1.0 + 0.05 * math.sin(day.toordinal() / 9.0))
        minor_tables = self._minor_tables(day)
        system_tables = [cumulative(t) for t in _SYSTEM_TEMPLATES]
        details = Details(day, rand)
        n_minor, n_system = len(minor_tables), len(system_tables)
        for i in range(self.packages):
            base = TOP_DOWNLOADS / (1.0 + i / _HEAD) ** _SLOPE * level * rise(i, day)
            if base >= 50.0:
                total = int(base * (0.85 + 0.3 * rand()))
            else:
                x = base * (0.4 + 1.2 * rand())
                total = int(x)
                if rand() < x - total:
                    total += 1
                if total == 0:
                    continue
            mirror_share = 0.01 + 0.03 * ((i * 7919) % 101) / 100.0
            mirrors = min(total, int(total * mirror_share + rand()))
            without = total - mirrors
            counts: RawCounts = {"overall": {"with_mirrors": total}}
            counts["installer"] = details.installers(i, without, mirrors)
            if without > 0:
                counts["overall"]["without_mirrors"] = without
                u = rand()
                minor_parts = split(without, minor_tables[(i * 2654435761 >> 5) % n_minor], u)
                minors: dict[str, int] = {}
                majors: dict[str, int] = {}
                for category, n in zip(_MINORS, minor_parts, strict=True):
                    if n:
                        minors[category] = n
                        major = _MAJOR_OF[category]
                        majors[major] = majors.get(major, 0) + n
                system_parts = split(without, system_tables[(i * 40503 >> 3) % n_system], 1.0 - u)
                counts["python_major"] = majors
                counts["python_minor"] = minors
                counts["system"] = {c: n for c, n in zip(_SYSTEMS, system_parts, strict=True) if n}
                counts["version"] = details.versions(i, without)
                counts["country"] = details.countries(i, without)
                counts["file_type"] = details.file_types(i, without)
                counts["ci"] = details.ci(i, without)
                counts["platform"], counts["abi"] = details.platforms(
                    i, _binary(i), counts["file_type"], minors
                )
                people = details.people(counts["installer"], counts["ci"], without)
                if people:
                    counts["overall"]["people"] = people
            yield (fresh_name(day) if i == _NEW_INDEX else raw_name(i)), counts

    async def iter_day(self, day: dt.date) -> AsyncIterator[tuple[str, RawCounts]]:
        """Stream the day, handing the event loop back every few thousand packages."""
        for k, item in enumerate(self.generate(day)):
            if k % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
            yield item

    def expected_rows(self, day: dt.date) -> Iterator[tuple[str, str, str, int]]:
        """Every non-zero ``(package, dimension, category, downloads)`` row that should be stored."""
        for raw, counts in self.generate(day):
            package = normalize(raw)
            for dimension, values in counts.items():
                for category, downloads in values.items():
                    if downloads:
                        yield package, dimension, category, downloads

    def expected_totals(self, day: dt.date) -> dict[str, int]:
        """Downloads per overall category (``with_mirrors``, ``without_mirrors``, ``people``) for the day."""
        totals = {"with_mirrors": 0, "without_mirrors": 0, "people": 0}
        for _raw, counts in self.generate(day):
            for category, downloads in counts["overall"].items():
                totals[category] += downloads
        return totals
