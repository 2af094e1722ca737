"""The bench generator's dimensions beyond pypistats.org (pure, no I/O): installer, country,
file_type, ci, platform and abi (the ``details`` array) and version (the ``versions`` array).

Owns what those counts look like in the seeded data, vectorised with numpy over every package of a
day and deterministic from a seed, in the spirit of the synthetic source
(services/ingest/sources/synthetic_details.py):

* installer: the downloads without mirrors over pip, uv, poetry, pdm, ... (uv gaining over the
  window), the mirror downloads (``with_mirrors - without_mirrors``) over bandersnatch, the NULL
  installer (``null``), Artifactory, devpi and z3c.pypimirror, so the installers sum to
  ``with_mirrors``;
* country: 49 heavy-tailed (Zipf-like) country codes and ``null``, three regional mixes (China and
  its neighbours, Europe ahead), each package with its own noise around its region's shares;
* file_type: wheels ~90 % (one package in eleven outside the head ships only an sdist);
* ci: ``true`` ~25 %, ``false`` a little, the rest not reported (``null``);
* version: each package releases on its own cadence (a week to two months) from its own phase; on
  each day its last up-to-:data:`VERSION_SLOTS` releases get geometric shares, the newest ramping up
  over its first week and a thin tail pinned to old releases. Version strings come from
  :func:`services.ingest.sources.synthetic_details.version_string` (four schemes), so the same
  strings recur across packages as real ones do. Small packages get fewer non-zero versions because
  the multinomial draw leaves the tail empty.

* platform and abi (event schema 4, shared/platforms.py's categories, in the ``details`` array
  as the aggregator stores them: shared/db/layout.py COLUMN_OF), like the synthetic source
  (services/ingest/sources/synthetic_details.py ``Details.platforms``): sdists are ``sdist`` in
  both, eggs ``other``; a pure-Python package's wheels are ``any``/``none``; a binary package's
  (the well-known extension modules among the real names, one in five below the head) spread
  over manylinux, musllinux, macOS and Windows by its own shares, and its ABIs follow the day's
  Python 3 minors of the package (``cp312`` ...) with a free-threaded ``cp313t`` part of cp313,
  or are ``abi3`` (one binary package in three, and any without a Python 3 minor that day).
  Drawn from random streams of their own (:class:`PlatformParams`, :func:`day_platforms`), so
  every other count is the same as before they were added.

country, file_type, ci, version, platform and abi each sum to ``without_mirrors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from shared.synthetic_catalog import version_string

Counts = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

USER_INSTALLERS: Final = ("pip", "uv", "poetry", "pdm", "pipenv", "requests", "setuptools", "Browser", "OS")
MIRROR_INSTALLERS: Final = ("bandersnatch", "null", "Artifactory", "devpi", "z3c.pypimirror")
COUNTRIES: Final = (
    "US", "CN", "DE", "IE", "GB", "IN", "FR", "JP", "SG", "NL", "CA", "KR", "BR", "AU", "SE", "RU",
    "HK", "CH", "PL", "ES", "IT", "FI", "TW", "IL", "VN", "BE", "AT", "UA", "ID", "ZA", "TR", "MX",
    "DK", "NO", "CZ", "AR", "PT", "RO", "TH", "MY", "NZ", "CL", "HU", "PH", "EG", "NG", "PK", "BD",
    "KE", "null",
)  # fmt: skip
FILE_TYPES: Final = ("bdist_wheel", "sdist", "bdist_egg")
CI: Final = ("true", "false", "null")
#: Platforms of binary wheels (shared.platforms.platform_category's names).
BINARY_PLATFORMS: Final = (
    "manylinux x86_64", "manylinux aarch64", "musllinux x86_64", "musllinux aarch64", "macOS arm64",
    "macOS x86_64", "Windows amd64", "Windows x86",
)  # fmt: skip
#: platform categories: an sdist, an egg (``other``), a pure-Python wheel, then the binary ones.
PLATFORMS: Final = ("sdist", "other", "any", *BINARY_PLATFORMS)
#: The Python 3 minors of bench.shape.MINORS (a test holds them equal), whose CPython ABIs the
#: binary wheels follow.
PY3_MINORS: Final = ("3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
#: abi categories: an sdist, an egg, a pure-Python wheel, the stable ABI, the CPython ABI of each
#: Python 3 minor, then free-threaded 3.13.
ABIS: Final = ("sdist", "other", "none", "abi3", *("cp" + m.replace(".", "") for m in PY3_MINORS), "cp313t")
#: Every (dimension, category) of the ``details`` array, in the column order of ``Details.counts``.
DETAILS: Final = (
    tuple(("installer", c) for c in USER_INSTALLERS + MIRROR_INSTALLERS)
    + tuple(("country", c) for c in COUNTRIES)
    + tuple(("file_type", c) for c in FILE_TYPES)
    + tuple(("ci", c) for c in CI)
    + tuple(("platform", c) for c in PLATFORMS)
    + tuple(("abi", c) for c in ABIS)
)
#: Columns of ``Details.counts`` drawn by :func:`day_details` (the rest by :func:`day_platforms`).
DRAWN_BEFORE_PLATFORMS: Final = len(DETAILS) - len(PLATFORMS) - len(ABIS)
#: Real names (bench.shape.REAL_NAMES) that ship compiled extension modules (platform wheels).
BINARY_NAMES: Final = frozenset(
    {"numpy", "cryptography", "pyyaml", "cffi", "pandas", "protobuf", "markupsafe", "wrapt", "aiohttp",
     "sqlalchemy", "charset-normalizer"}
)  # fmt: skip
#: Packages from this index on have ``pkg-<i>`` names (bench.shape.REAL_NAMES has this many).
HEAD: Final = 48
#: At most this many releases of a package are downloaded on one day.
VERSION_SLOTS: Final = 24
#: version_string's schemes: a package's scheme is its index modulo this.
SCHEMES: Final = 4

_USER: Final = np.array([78.0, 12.0, 5.0, 1.5, 1.5, 0.8, 0.6, 0.4, 0.2])
_UV: Final = 1  # index of "uv" in USER_INSTALLERS
_MIRROR: Final = np.array([62.0, 22.0, 9.0, 6.0, 1.0])
_ZIPF: Final = np.append(1.0 / np.arange(1, len(COUNTRIES)) ** 1.35, 0.002)  # "null" last, rare
_REGIONS: Final = np.array([
    np.ones(len(COUNTRIES)),
    [6.0 if c == "CN" else 3.0 if c == "HK" else 2.0 if c in ("SG", "TW") else 1.0 for c in COUNTRIES],
    [2.5 if c in ("DE", "FR") else 2.0 if c in ("GB", "NL") else 1.0 for c in COUNTRIES],
])  # fmt: skip
_FILES: Final = np.array([90.0, 9.5, 0.5])
_CI: Final = np.array([25.0, 3.0, 72.0])
_PLATFORM: Final = np.array([60.0, 9.0, 3.0, 0.6, 10.0, 3.5, 13.0, 0.9])
#: The free-threaded part of cp313 wheels at the window's start and its rise over the window.
_FREE_THREADED: Final = (0.07, 0.04)
_RAMP_DAYS: Final = 7.0
_TAIL: Final = 0.003  # each old release's pinned share, before normalising


def _dirichlet(rng: np.random.Generator, alpha: Floats) -> Floats:
    """One Dirichlet draw per row of ``alpha`` (numpy's own takes a single alpha vector)."""
    g = rng.gamma(alpha)
    return g / g.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class DetailParams:
    """Per-package parameters of the details and versions (arrays of length ``n``)."""

    n: int
    user: Floats  # (n, 9) installer shares of the downloads without mirrors at the window's start
    uv_growth: Floats  # log-change of uv's weight over the window
    mirror: Floats  # (n, 5) installer shares of the mirror downloads
    countries: Floats  # (n, 50)
    files: Floats  # (n, 3)
    ci: Floats  # (n, 3)
    cadence: Floats  # days between releases
    phase: Floats  # days since the last release on the window's first day, in [0, cadence)
    first_release: Counts  # releases made before the window's first day's newest one
    decay: Floats  # geometric share of each older release
    platforms: PlatformParams  # platform and abi (a random stream of their own)

    @classmethod
    def draw(cls, n: int, seed: int) -> DetailParams:
        rng = np.random.default_rng([seed, 0xB5EED, 1])
        region = rng.choice(len(_REGIONS), size=n, p=[0.7, 0.15, 0.15])
        countries = _dirichlet(rng, 40.0 * (_ZIPF * _REGIONS[region]) / (_ZIPF @ _REGIONS[region].T)[:, None])
        files = _dirichlet(rng, np.broadcast_to(_FILES / 2.0, (n, len(_FILES))))
        sdist_only = (np.arange(n) >= HEAD) & (rng.random(n) < 1 / 11)
        files[sdist_only] = (0.0, 1.0, 0.0)
        cadence = np.exp(rng.uniform(np.log(7.0), np.log(60.0), n))
        return cls(
            n=n,
            user=_dirichlet(rng, np.broadcast_to(_USER / 2.0, (n, len(_USER)))),
            uv_growth=rng.normal(0.6, 0.3, n),
            mirror=_dirichlet(rng, np.broadcast_to(_MIRROR / 5.0, (n, len(_MIRROR)))),
            countries=countries,
            files=files,
            ci=_dirichlet(rng, np.broadcast_to(_CI / 4.0, (n, len(_CI)))),
            cadence=cadence,
            phase=rng.random(n) * cadence,
            first_release=np.minimum(rng.exponential(40.0, n), 400).astype(np.int64),
            decay=rng.uniform(0.45, 0.75, n),
            platforms=PlatformParams.draw(n, seed),
        )

    def max_release(self, days: int) -> int:
        """The highest release number any package reaches within ``days`` days."""
        return int((self.first_release + (self.phase + days) // self.cadence).max())


def version_names(max_release: int) -> list[list[str]]:
    """Version strings by ``[scheme][release]`` for releases 0..max_release."""
    return [[version_string(s, r) for r in range(max_release + 1)] for s in range(SCHEMES)]


@dataclass(frozen=True)
class Details:
    """One day's details and versions of every package."""

    counts: Counts  # (n, len(DETAILS)); the platform and abi columns zero until day_platforms
    versions: Counts  # (n, VERSION_SLOTS): downloads of the newest release, the one before, ...
    releases: Counts  # (n, VERSION_SLOTS): release numbers of those columns (-1: none)


def _normalised(weights: Floats) -> Floats:
    return weights / weights.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def day_details(
    params: DetailParams,
    rng: np.random.Generator,
    index: int,
    t: float,
    with_mirrors: Counts,
    without: Counts,
) -> Details:
    """Day ``index`` (``t`` its position in the window, 0..1) from the day's own random stream."""
    growth = np.ones((params.n, len(USER_INSTALLERS)))
    growth[:, _UV] = np.exp(params.uv_growth * t)
    user = rng.multinomial(without, _normalised(params.user * growth))
    mirror = rng.multinomial(with_mirrors - without, params.mirror)
    countries = rng.multinomial(without, params.countries)
    files = rng.multinomial(without, params.files)
    ci = rng.multinomial(without, params.ci)
    counts = np.zeros((params.n, len(DETAILS)), dtype=np.int64)  # platform and abi: day_platforms
    counts[:, :DRAWN_BEFORE_PLATFORMS] = np.concatenate([user, mirror, countries, files, ci], axis=1)

    elapsed = params.phase + index
    newest = params.first_release + (elapsed // params.cadence).astype(np.int64)
    age = elapsed % params.cadence
    k = np.arange(VERSION_SLOTS)
    releases = newest[:, None] - k[None, :]
    weights = params.decay[:, None] ** k[None, :] + _TAIL
    weights[:, 0] = 3.0 * np.minimum(1.0, (age + 1.0) / _RAMP_DAYS)
    weights[releases < 0] = 0.0
    versions = rng.multinomial(without, _normalised(weights)).astype(np.int64)
    return Details(counts, versions, np.where(releases < 0, -1, releases))


@dataclass(frozen=True)
class PlatformParams:
    """Per-package parameters of the platforms and ABIs, from a random stream of their own."""

    n: int
    binary: npt.NDArray[np.bool_]  # ships platform wheels
    stable_abi: npt.NDArray[np.bool_]  # a binary package whose wheels are all abi3
    platforms: Floats  # (n, len(BINARY_PLATFORMS)) shares of a binary package's wheels

    @classmethod
    def draw(cls, n: int, seed: int) -> PlatformParams:
        from bench.shape import package_names  # bench.shape imports this module

        rng = np.random.default_rng([seed, 0xB5EED, 2])
        index = np.arange(n)
        head = np.array([name in BINARY_NAMES for name in package_names(min(n, HEAD))], dtype=np.bool_)
        binary = (index >= HEAD) & (index % 5 == 2)
        binary[: len(head)] = head
        shares = _dirichlet(rng, np.broadcast_to(_PLATFORM / 2.0, (n, len(_PLATFORM))))
        return cls(n=n, binary=binary, stable_abi=binary & (index % 3 == 0), platforms=shares)


_FILE_COLUMN: Final = {c: DETAILS.index(("file_type", c)) for c in FILE_TYPES}
_PLATFORM_FROM: Final = DRAWN_BEFORE_PLATFORMS
_ABI_FROM: Final = DRAWN_BEFORE_PLATFORMS + len(PLATFORMS)


def day_platforms(
    params: PlatformParams, rng: np.random.Generator, t: float, counts: Counts, py3_minors: Counts
) -> None:
    """Fill the platform and abi columns of one day's ``counts`` (in place) from its file types
    and ``py3_minors`` ((n, len(PY3_MINORS)): the day's Python 3 minor counts), drawing from
    ``rng`` (the day's stream of its own; ``t`` the day's position in the window, 0..1)."""
    wheels = counts[:, _FILE_COLUMN["bdist_wheel"]]
    sdists, eggs = counts[:, _FILE_COLUMN["sdist"]], counts[:, _FILE_COLUMN["bdist_egg"]]
    binary = np.where(params.binary, wheels, 0)
    pure = wheels - binary
    p, a = _PLATFORM_FROM, _ABI_FROM
    counts[:, p], counts[:, p + 1], counts[:, p + 2] = sdists, eggs, pure
    counts[:, p + 3 : a] = rng.multinomial(binary, params.platforms)
    counts[:, a], counts[:, a + 1], counts[:, a + 2] = sdists, eggs, pure
    # weights over abi3, the CPython ABI of each Python 3 minor, cp313t
    weights = np.zeros((params.n, 2 + len(PY3_MINORS)))
    weights[:, 1:-1] = py3_minors
    cp313 = 1 + PY3_MINORS.index("3.13")
    free = _FREE_THREADED[0] + _FREE_THREADED[1] * t
    weights[:, -1] = weights[:, cp313] * free
    weights[:, cp313] -= weights[:, -1]
    stable = params.stable_abi | (weights.sum(axis=1) == 0)
    weights[stable] = 0.0
    weights[stable, 0] = 1.0
    counts[:, a + 3 :] = rng.multinomial(binary, _normalised(weights))
