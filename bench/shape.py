"""The synthetic download counts of the storage and random-read benchmarks (pure, no I/O).

Owns what the seeded data looks like, deterministically from a seed:

* package names: a few real ones first (the biggest), then ``pkg-<i>``;
* per-package parameters drawn once (:class:`Packages`): a heavy-tailed (lognormal) daily level,
  from a handful of downloads to millions a day, a growth trend, how much weekends dip, the
  Python 2 and unknown-Python shares, where the package's Python 3 minors centre, its operating
  system mix and mirror traffic;
* one day of every package at once (:func:`day_counts`), vectorised with numpy: ``with_mirrors``,
  ``without_mirrors`` and the python_major / python_minor / system breakdowns of the
  ``without_mirrors`` downloads (each breakdown sums to it, python_major is python_minor summed
  per major), with the minor shares drifting towards newer versions over the window. Small
  packages get fewer non-zero categories, as only non-zero counts are stored;
* optionally (``details``: :class:`bench.shape_details.DetailParams`) the dimensions beyond
  pypistats.org, installer, country, file_type, ci, platform, abi and version
  (bench/shape_details.py), drawn from random streams of their own, so the counts above are the
  same with or without them (and the others the same with or without platform and abi).

A day's random numbers depend only on (seed, day index), so any batch of days is reproducible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from bench.shape_details import PY3_MINORS, DetailParams, Details, day_details, day_platforms

Counts = npt.NDArray[np.int64]

#: Real names given to the biggest packages, so a benchmark also asks for names that look real.
REAL_NAMES: Final = (
    "boto3", "urllib3", "botocore", "requests", "setuptools", "certifi", "idna", "charset-normalizer",
    "typing-extensions", "python-dateutil", "packaging", "s3transfer", "numpy", "six", "pyyaml",
    "aiobotocore", "grpcio-status", "cryptography", "pip", "fsspec", "s3fs", "pydantic", "attrs",
    "cffi", "pycparser", "google-api-core", "jmespath", "protobuf", "pandas", "wheel", "rsa",
    "markupsafe", "importlib-metadata", "zipp", "platformdirs", "jinja2", "click", "pytz", "pluggy",
    "filelock", "virtualenv", "pyjwt", "colorama", "tomli", "wrapt", "pyasn1", "aiohttp", "sqlalchemy",
)  # fmt: skip

#: python_minor categories (the contract's strings), oldest first, then "null".
MINORS: Final = ("2.6", "2.7", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
#: python_major of each minor column (and "null" for the last one).
MAJOR_OF: Final = tuple(m.split(".")[0] for m in MINORS) + ("null",)
MAJORS: Final = ("2", "3", "null")
SYSTEMS: Final = ("Linux", "Windows", "Darwin", "other", "null")
#: Every non-overall (dimension, category), in the column order of :class:`Day` breakdowns.
BREAKDOWN: Final = (
    tuple(("python_major", c) for c in MAJORS)
    + tuple(("python_minor", c) for c in (*MINORS, "null"))
    + tuple(("system", c) for c in SYSTEMS)
)
#: Monday..Sunday download level relative to a weekday.
WEEKDAY: Final = (1.0, 1.03, 1.02, 1.0, 0.93, 0.62, 0.6)
_PY3_FIRST: Final = 2  # index of "3.5" in MINORS


def package_name(i: int) -> str:
    return REAL_NAMES[i] if i < len(REAL_NAMES) else f"pkg-{i}"


def package_names(n: int) -> list[str]:
    return [package_name(i) for i in range(n)]


@dataclass(frozen=True)
class Packages:
    """Per-package parameters (arrays of length ``n``), drawn once from ``seed``."""

    n: int
    level: npt.NDArray[np.float64]  # mean weekday without_mirrors downloads at the window's start
    growth: npt.NDArray[np.float64]  # log-change of the level over the window
    weekend: npt.NDArray[np.float64]  # 0 = no weekend dip, 1 = the full WEEKDAY rhythm
    py2: npt.NDArray[np.float64]  # share of Python 2
    unknown: npt.NDArray[np.float64]  # share without a Python version ("null")
    centre: npt.NDArray[np.float64]  # index in MINORS where the Python 3 minors peak at the start
    systems: npt.NDArray[np.float64]  # (n, 5) shares of SYSTEMS
    mirrors: npt.NDArray[np.float64]  # mean daily mirror downloads (with_mirrors - without_mirrors)

    @classmethod
    def draw(cls, n: int, seed: int = 0) -> Packages:
        rng = np.random.default_rng([seed, 0xB5EED])
        level = np.sort(np.exp(rng.normal(np.log(200.0), 2.2, n)))[::-1]  # the real names get the biggest
        level = np.minimum(level, 3.0e7)
        old = rng.random(n) < 0.05  # a few packages still used mostly from Python 2
        py2 = np.where(old, rng.beta(4, 6, n), rng.beta(1, 150, n))
        unknown = rng.beta(2, 40, n)
        systems = rng.dirichlet(np.array([0.72, 0.12, 0.08, 0.01, 0.07]) * 40, n)
        return cls(
            n=n,
            level=level,
            growth=rng.normal(0.05, 0.25, n),
            weekend=rng.beta(5, 2, n),
            py2=py2,
            unknown=unknown,
            centre=rng.normal(7.2, 1.0, n),
            systems=systems,
            mirrors=0.01 * level + rng.gamma(2.0, 1.0, n),
        )


@dataclass(frozen=True)
class Day:
    """One day of every package; rows with ``with_mirrors == 0`` are package-days that do not exist."""

    with_mirrors: Counts  # (n,)
    without_mirrors: Counts  # (n,)
    breakdown: Counts  # (n, len(BREAKDOWN)): python_major, python_minor, system
    details: Details | None = None  # installer, country, file_type, ci, platform, abi, version, if drawn

    @property
    def exists(self) -> npt.NDArray[np.bool_]:
        return self.with_mirrors > 0

    def rows(self) -> Counts:
        """Non-zero (dimension, category) counts per package, the overall pair included."""
        nonzero = (self.with_mirrors > 0).astype(np.int64) + (self.without_mirrors > 0)
        nonzero += np.count_nonzero(self.breakdown, axis=1)
        if self.details is not None:
            nonzero += np.count_nonzero(self.details.counts, axis=1)
            nonzero += np.count_nonzero(self.details.versions, axis=1)
        return nonzero


def minor_shares(packages: Packages, t: float) -> npt.NDArray[np.float64]:
    """(n, 13) shares of MINORS + null at time ``t`` (0 = first day, 1 = last day)."""
    k = np.arange(len(MINORS), dtype=np.float64)
    centre = packages.centre[:, None] + 0.7 * t  # audiences move to newer Pythons
    py3 = np.exp(-((k[None, :] - centre) ** 2) / (2 * 1.7**2))
    py3[:, :_PY3_FIRST] = 0.0
    py3 /= py3.sum(axis=1, keepdims=True)
    shares = np.empty((packages.n, len(MINORS) + 1))
    share3 = 1.0 - packages.py2 - packages.unknown
    shares[:, :_PY3_FIRST] = packages.py2[:, None] * np.array([0.04, 0.96])
    shares[:, _PY3_FIRST:-1] = share3[:, None] * py3[:, _PY3_FIRST:]
    shares[:, -1] = packages.unknown
    return shares / shares.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def day_counts(
    packages: Packages, seed: int, index: int, days: int, weekday: int, details: DetailParams | None = None
) -> Day:
    """Day ``index`` (0 = oldest) of a ``days``-day window; ``weekday`` 0 = Monday; with ``details``
    (drawn for the same packages) also the dimensions beyond pypistats.org."""
    rng = np.random.default_rng([seed, index])
    t = index / max(days - 1, 1)
    rhythm = 1.0 - packages.weekend * (1.0 - WEEKDAY[weekday])
    mean = packages.level * np.exp(packages.growth * t) * rhythm * rng.lognormal(0.0, 0.12, packages.n)
    without = rng.poisson(mean).astype(np.int64)
    with_mirrors = without + rng.poisson(packages.mirrors)
    minors = rng.multinomial(without, minor_shares(packages, t)).astype(np.int64)
    majors = np.zeros((packages.n, len(MAJORS)), dtype=np.int64)
    for column, major in enumerate(MAJOR_OF):
        majors[:, MAJORS.index(major)] += minors[:, column]
    systems = rng.multinomial(without, packages.systems).astype(np.int64)
    breakdown = np.concatenate([majors, minors, systems], axis=1)
    if details is None:
        return Day(with_mirrors, without, breakdown)
    extra = day_details(details, np.random.default_rng([seed, index, 1]), index, t, with_mirrors, without)
    py3 = minors[:, MINORS.index(PY3_MINORS[0]) : MINORS.index(PY3_MINORS[-1]) + 1]
    day_platforms(details.platforms, np.random.default_rng([seed, index, 2]), t, extra.counts, py3)
    return Day(with_mirrors, without, breakdown, extra)


def window(end: dt.date, days: int) -> list[dt.date]:
    """The ``days`` dates ending at ``end``, oldest first."""
    return [end - dt.timedelta(days=days - 1 - i) for i in range(days)]
