"""The bench generator's dimensions beyond pypistats.org (pure, no I/O): installer, country,
file_type, ci (the ``details`` array) and version (the ``versions`` array).

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

country, file_type, ci and version each sum to ``without_mirrors``.
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
#: Every (dimension, category) of the ``details`` array, in the column order of ``Details.counts``.
DETAILS: Final = (
    tuple(("installer", c) for c in USER_INSTALLERS + MIRROR_INSTALLERS)
    + tuple(("country", c) for c in COUNTRIES)
    + tuple(("file_type", c) for c in FILE_TYPES)
    + tuple(("ci", c) for c in CI)
)
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

    @classmethod
    def draw(cls, n: int, seed: int) -> DetailParams:
        rng = np.random.default_rng([seed, 0xB5EED, 1])
        region = rng.choice(len(_REGIONS), size=n, p=[0.7, 0.15, 0.15])
        countries = _dirichlet(rng, 40.0 * (_ZIPF * _REGIONS[region]) / (_ZIPF @ _REGIONS[region].T)[:, None])
        files = _dirichlet(rng, np.broadcast_to(_FILES / 2.0, (n, len(_FILES))))
        sdist_only = (np.arange(n) >= 48) & (rng.random(n) < 1 / 11)
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

    counts: Counts  # (n, len(DETAILS))
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
    counts = np.concatenate([user, mirror, countries, files, ci], axis=1).astype(np.int64)

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
