"""Platforms and ABIs of downloaded files: the rule that names them (pure, no I/O).

Owns the one rule the ingest, the synthetic source, the API and the docs share for the
dimensions ``platform`` and ``abi`` (event schema version 4). A wheel's file name carries PEP 427
tags, ``{name}-{version}(-{build})?-{python tag}-{abi tag}-{platform tag}.whl``; the one-scan
query (``services/ingest/query.sql``) cuts the ABI and platform tags out of ``file.filename``
(grouping by them keeps its output a few rows per package), and the SQL sources map them here,
once per row, to readable categories:

* ``platform``: the platform tag set grouped by operating system and architecture, so the many
  spellings of one target read as one: ``manylinux x86_64`` (``manylinux1``, ``manylinux2010``,
  ``manylinux2014`` and every ``manylinux_2_N``), ``musllinux aarch64``, ``macOS arm64``,
  ``macOS universal2``, ``Windows amd64`` (``win_amd64``), ``Windows x86`` (``win32``), ``linux
  x86_64`` (a plain ``linux_*`` tag), ``iOS arm64``, ``Android arm64_v8a``, ``Pyodide wasm32``,
  ``Emscripten wasm32``, and ``any`` (a pure-Python wheel). A compressed tag set naming several
  of them (``macosx_10_9_x86_64.macosx_11_0_arm64``) is their names joined by `` + ``.
* ``abi``: the ABI tag set as written, lower case (``cp312``, ``cp313t`` for a free-threaded
  build, ``abi3``, ``none``, ``pypy310_pp73``); a compressed set keeps its tags, sorted, joined
  by ``.``.

Both dimensions share the categories the query itself gives: :data:`SDIST` (a source
distribution: ``file.type`` is ``sdist``), ``null`` (no file name) and :data:`OTHER` (a file that
is not a wheel, such as an egg or a Windows installer, a wheel whose name has not the five
parts, or a platform tag this rule does not know).
"""

from __future__ import annotations

import functools
import re
from typing import Final

from packaging.tags import parse_tag

#: A source distribution: no platform, no ABI.
SDIST: Final = "sdist"
#: No file name logged.
NULL: Final = "null"
#: Not a wheel, a malformed wheel name, or a platform tag the rule does not know.
OTHER: Final = "other"
#: Categories the query gives both dimensions as they are.
SENTINELS: Final = frozenset({SDIST, NULL, OTHER})

_ARCH = r"([a-z0-9_]{1,20})"
#: ``(pattern, name)``, tried in order; ``{}`` in a name is the pattern's architecture.
_PLATFORMS: Final = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"any", "any"),
        (rf"manylinux_[0-9]+_[0-9]+_{_ARCH}", "manylinux {}"),
        (rf"manylinux(?:1|2010|2014)_{_ARCH}", "manylinux {}"),
        (rf"musllinux_[0-9]+_[0-9]+_{_ARCH}", "musllinux {}"),
        (rf"linux_{_ARCH}", "linux {}"),
        (rf"macosx_[0-9]+_[0-9]+_{_ARCH}", "macOS {}"),
        (r"win32", "Windows x86"),
        (rf"win_{_ARCH}", "Windows {}"),
        (r"ios_[0-9]+_[0-9]+_([a-z0-9_]{1,20})_iphone(?:os|simulator)", "iOS {}"),
        (rf"android_[0-9]+_{_ARCH}", "Android {}"),
        (r"pyodide_[0-9]+_[0-9]+_wasm32", "Pyodide wasm32"),
        (r"emscripten_[0-9]+_[0-9]+_[0-9]+_wasm32", "Emscripten wasm32"),
    )
)
_ABI = re.compile(r"[a-z0-9_]{1,32}")
#: The longest category the events carry in these dimensions (shared.events.TEXT_DIMENSIONS).
PLATFORM_LENGTH: Final = 64
ABI_LENGTH: Final = 32


def _one_platform(tag: str) -> str:
    for pattern, name in _PLATFORMS:
        found = pattern.fullmatch(tag)
        if found is not None:
            return name.format(*found.groups())
    return OTHER


def _tags(abi: str, platform: str) -> frozenset[tuple[str, str]]:
    """The (abi, platform) pairs of a compressed tag set (packaging's own expansion)."""
    try:
        return frozenset((t.abi, t.platform) for t in parse_tag(f"py3-{abi}-{platform}"))
    except ValueError:
        return frozenset()


@functools.lru_cache(maxsize=4096)
def platform_category(tag: str) -> str:
    """The readable platform of a wheel's platform tag set (module doc); sentinels stay."""
    if tag in SENTINELS:
        return tag
    text = tag.strip().lower()
    if not text or "-" in text or len(text) > 400:
        return OTHER
    names = sorted({_one_platform(p) for _, p in _tags("none", text)})
    if not names:
        return OTHER
    if len(names) > 1 and OTHER in names:
        return OTHER
    joined = " + ".join(names)
    return joined if len(joined) <= PLATFORM_LENGTH else OTHER


@functools.lru_cache(maxsize=4096)
def abi_category(tag: str) -> str:
    """The ABI tag set of a wheel, lower case and sorted (module doc); sentinels stay."""
    if tag in SENTINELS:
        return tag
    text = tag.strip().lower()
    if not text or "-" in text or len(text) > 400:
        return OTHER
    abis = sorted({a for a, _ in _tags(text, "any")})
    if not abis or not all(_ABI.fullmatch(a) for a in abis):
        return OTHER
    joined = ".".join(abis)
    return joined if len(joined) <= ABI_LENGTH else OTHER


def free_threaded(abi: str) -> bool:
    """True for a free-threaded CPython ABI (``cp313t``, ``cp314t``: PEP 703's ``t`` flag)."""
    return re.fullmatch(r"cp3[0-9]+t", abi) is not None


#: What the SQL sources map per dimension (services/ingest/sources/rows.py).
NORMALISE: Final = {"platform": platform_category, "abi": abi_category}
