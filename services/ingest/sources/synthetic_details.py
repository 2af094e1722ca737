"""The synthetic source's dimensions beyond pypistats.org: versions, installers, countries, file types, CI.

Owns how one synthetic package-day splits its downloads over those dimensions, plausibly and
exactly (every split sums to the downloads it was given), and the integer splitting shared with
:mod:`.synthetic`:

* versions: each package releases on its own cadence (a week to two months, shared.synthetic_catalog,
  which the web's fake PyPI reads too, so the demo marks these releases); the newest release
  ramps up over its first week and older ones decay geometrically, with a long tail of pinned old
  releases. Popular packages see a few dozen versions a day, small ones a handful. Version
  schemes vary by package (semver, calendar versions, ``0.x``).
* installers: pip dominant, uv rising through 2024-2026 (fast, then steadily, past pip in the summer
  of 2026, so the ecosystem page's last 30 days show it still rising), poetry, pdm, pipenv and a few others
  without mirrors; the mirror part is bandersnatch, Artifactory, devpi, z3c.pypimirror and the
  NULL installer (``null``), so the installer breakdown adds up to ``with_mirrors``.
* countries: a heavy-tailed list (the US far ahead), three regional templates, ``null`` rare.
* file types: wheels dominant; one package in eleven outside the head ships only an sdist.
* CI: about a quarter of downloads from CI, a little ``false``, the rest not reported.
* platforms and ABIs (event schema 4): without a random draw either (so no other number moved),
  from the file types: sdists are ``sdist`` in both, eggs ``other``; a pure-Python package's
  wheels are ``any``/``none``, a binary package's (the well-known extension modules, and one in
  five below the head) spread over manylinux, musllinux, macOS and Windows, and its ABIs follow
  the day's Python minors (``cp312`` ...; ``abi3`` for one binary package in three), with a
  free-threaded ``cp313t`` share growing from Python 3.13's release (2024-10-07) on.
* people (the overall category): the downloads by the allowlisted installers (shared.installers)
  times the share not from CI, as if the two were independent; no random draw, so adding it
  changed no other number.

Everything draws from the caller's random stream, so a ``(seed, day)`` still gives one output.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Callable, Sequence

from shared.installers import PEOPLE_INSTALLERS
from shared.synthetic_catalog import release_of, version_string

_UV_START = dt.date(2024, 2, 15)
#: uv's weight grows exponentially until it reaches _UV_KNEE (in the spring of 2026), then by
#: _UV_LATER a year up to _UV_MOST, so the last months of a history show it still rising.
_UV_KNEE, _UV_LATER, _UV_MOST = 45.0, 18.0, 75.0
_UV_KNEE_YEARS = math.log(_UV_KNEE / 1.5) / 1.6
_FREE_THREADED_START = dt.date(2024, 10, 7)


def cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    """Cumulative shares of ``weights`` (the last exactly 1.0)."""
    total = sum(weights)
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc / total)
    out[-1] = 1.0
    return tuple(out)


def split(total: int, shares: tuple[float, ...], offset: float) -> list[int]:
    """Systematic sampling: integer parts that sum exactly to ``total``, unbiased for small totals."""
    parts, previous = [], math.floor(offset)
    for c in shares:
        edge = math.floor(total * c + offset)
        parts.append(edge - previous)
        previous = edge
    return parts


def spread(
    total: int, names: Sequence[str], shares: tuple[float, ...], rand: Callable[[], float]
) -> dict[str, int]:
    """``total`` split over ``names`` by cumulative ``shares``, zeros left out; small totals draw
    each download (cheaper than visiting every category), large ones sample systematically."""
    out: dict[str, int] = {}
    if total <= 0:
        return out
    if total < len(names):
        for _ in range(total):
            name = names[bisect.bisect_left(shares, rand())]
            out[name] = out.get(name, 0) + 1
        return out
    for name, n in zip(names, split(total, shares, rand()), strict=True):
        if n:
            out[name] = n
    return out


_INSTALLERS = ("pip", "uv", "poetry", "pdm", "pipenv", "requests", "setuptools", "Browser", "OS")
_MIRRORS = ("bandersnatch", "null", "Artifactory", "devpi", "z3c.pypimirror")
_MIRROR_SHARES = cumulative((62.0, 22.0, 9.0, 6.0, 1.0))
_COUNTRIES = (
    "US", "CN", "DE", "IE", "GB", "IN", "FR", "JP", "SG", "NL", "CA", "KR", "BR", "AU", "SE", "RU",
    "HK", "CH", "PL", "ES", "IT", "FI", "TW", "IL", "VN", "BE", "AT", "UA", "ID", "ZA", "TR", "MX",
    "DK", "NO", "CZ", "AR", "PT", "RO", "TH", "MY", "NZ", "CL", "HU", "PH", "EG", "NG", "PK", "BD",
    "KE", "null",
)  # fmt: skip
# Three regional templates over the same list: Zipf-like weights, then regional boosts.
_ZIPF = [1.0 / (k + 1) ** 1.35 for k in range(len(_COUNTRIES))]
_ZIPF[-1] = 0.002  # null
_BOOSTS: tuple[dict[str, float], ...] = ({}, {"CN": 6.0, "HK": 3.0, "SG": 2.0, "TW": 2.0}, {"DE": 2.5, "FR": 2.5, "GB": 2.0, "NL": 2.0})  # fmt: skip
_COUNTRY_TABLES = tuple(
    cumulative([w * boost.get(c, 1.0) for c, w in zip(_COUNTRIES, _ZIPF, strict=True)]) for boost in _BOOSTS
)
_FILE_TYPES = ("bdist_wheel", "sdist", "bdist_egg")
_FILE_SHARES = cumulative((90.0, 9.5, 0.5))
_CI = ("null", "true", "false")
_CI_TABLES = (cumulative((70.0, 28.0, 2.0)), cumulative((55.0, 43.0, 2.0)), cumulative((85.0, 14.0, 1.0)))


_PLATFORMS = (
    "manylinux x86_64", "manylinux aarch64", "musllinux x86_64", "musllinux aarch64", "macOS arm64",
    "macOS x86_64", "Windows amd64", "Windows x86",
)  # fmt: skip
_PLATFORM_SHARES = cumulative((60.0, 9.0, 3.0, 0.6, 10.0, 3.5, 13.0, 0.9))


def _fraction(package: int) -> float:
    """A fixed offset in [0, 1) per package: systematic splits without a random draw."""
    return ((package * 2654435761) % 1009) / 1009.0


class Details:
    """The new dimensions of one day's package-days, drawing from the day's random stream."""

    def __init__(self, day: dt.date, rand: Callable[[], float]) -> None:
        self.day = day
        self.rand = rand
        uv_years = max(0.0, (day - _UV_START).days / 365.0)
        uv = 1.5 * math.exp(1.6 * uv_years)  # from a trickle to a large share
        if uv > _UV_KNEE:  # then steadily, past pip in the summer of 2026
            uv = min(_UV_MOST, _UV_KNEE + _UV_LATER * (uv_years - _UV_KNEE_YEARS))
        self.installer_shares = cumulative((100.0 - uv, uv, 7.0, 2.0, 2.5, 1.5, 1.0, 0.8, 0.4))
        ft_years = (day - _FREE_THREADED_START).days / 365.0
        #: The share of cp313 wheels that are free-threaded builds (cp313t).
        self.free_threaded = 0.0 if ft_years < 0 else min(0.12, 0.02 + 0.05 * ft_years)

    def installers(self, package: int, without: int, mirrors: int) -> dict[str, int]:
        """Installer names over every download: ``without`` by users, ``mirrors`` by mirrors and
        the NULL installer."""
        out = spread(without, _INSTALLERS, self.installer_shares, self.rand)
        out.update(spread(mirrors, _MIRRORS, _MIRROR_SHARES, self.rand))
        return out

    def versions(self, package: int, downloads: int) -> dict[str, int]:
        """Versions: the newest release ramping up over a week, older ones fading."""
        released, age = release_of(package, self.day)
        live = min(released + 1, 3 + 2 * int(math.log2(downloads + 1)))
        ramp = min(1.0, (age + 1) / 7.0)
        weights = [3.0 * ramp] + [0.55**k for k in range(1, live)]
        if live > 2:
            weights[-1] += 0.15  # the long tail pinned to an old release
        names = [version_string(package, released - k) for k in range(live)]
        return spread(downloads, names, cumulative(weights), self.rand)

    def countries(self, package: int, downloads: int) -> dict[str, int]:
        table = _COUNTRY_TABLES[(package * 2246822519 >> 7) % len(_COUNTRY_TABLES)]
        return spread(downloads, _COUNTRIES, table, self.rand)

    def file_types(self, package: int, downloads: int) -> dict[str, int]:
        if package >= 100 and package % 11 == 0:
            return {"sdist": downloads}
        return spread(downloads, _FILE_TYPES, _FILE_SHARES, self.rand)

    def platforms(
        self, package: int, binary: bool, file_types: dict[str, int], minors: dict[str, int]
    ) -> tuple[dict[str, int], dict[str, int]]:
        """``(platforms, abis)``: each sums to the file types' downloads (module doc)."""
        wheels = file_types.get("bdist_wheel", 0)
        platforms: dict[str, int] = {}
        abis: dict[str, int] = {}
        for name, n in (("sdist", file_types.get("sdist", 0)), ("other", file_types.get("bdist_egg", 0))):
            if n:
                platforms[name] = abis[name] = n
        if not wheels:
            return platforms, abis
        if not binary:
            platforms["any"], abis["none"] = wheels, wheels
            return platforms, abis
        offset = _fraction(package)
        for name, n in zip(_PLATFORMS, split(wheels, _PLATFORM_SHARES, offset), strict=True):
            if n:
                platforms[name] = n
        if package % 3 == 0:
            abis["abi3"] = wheels
            return platforms, abis
        known = sorted((m, n) for m, n in minors.items() if m.startswith("3.") and n)
        if not known:
            abis["abi3"] = wheels
            return platforms, abis
        names = ["cp" + m.replace(".", "") for m, _ in known]
        weights = [float(n) for _, n in known]
        if "cp313" in names and self.free_threaded > 0:
            k = names.index("cp313")
            names.append("cp313t")
            weights.append(weights[k] * self.free_threaded)
            weights[k] -= weights[-1]
        for name, n in zip(names, split(wheels, cumulative(weights), 1.0 - offset), strict=True):
            if n:
                abis[name] = abis.get(name, 0) + n
        return platforms, abis

    def people(self, installers: dict[str, int], ci: dict[str, int], without: int) -> int:
        """Downloads by people: the allowlisted installers' share of ``without`` outside CI."""
        if without <= 0:
            return 0
        by_people = sum(n for name, n in installers.items() if name in PEOPLE_INSTALLERS)
        return by_people * (without - ci.get("true", 0)) // without

    def ci(self, package: int, downloads: int) -> dict[str, int]:
        return spread(downloads, _CI, _CI_TABLES[(package * 40503 >> 4) % len(_CI_TABLES)], self.rand)
