"""The synthetic source's catalogue: package names by popularity rank and their release histories.

Owns what the ingest's synthetic source (services/ingest/sources/synthetic.py and
synthetic_details.py) and the web's fake PyPI (services/web/fakepypi.py) must agree on, so the
demo's package pages mark the releases that its download data shows: the name of the package
with popularity rank ``index`` (:func:`package_name`, and back: :func:`index_of`), the version
string of its ``n``-th release (:func:`version_string`: semver, calendar versions, ``0.x`` or
two-part versions, by package) and the day each release comes out (:func:`release_day`: every
package releases on its own cadence, a week to two months, from 2020 on). Major versions change
along the way (a semver package every 40 releases, a two-part one every 20): in the 180 days
before 2026-12-07 ``boto3`` goes from 9 to 10 and ``requests`` from 7 to 8.
Pure, no I/O.
"""

from __future__ import annotations

import datetime as dt
import functools

#: Day 0 of the release histories.
RELEASE_EPOCH = dt.date(2020, 1, 1)

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_SYLLABLES = [c + v for c in _CONSONANTS for v in _VOWELS]
# Neither list contains a word made only of the syllables above, so the three name shapes
# (code, prefix-code, code-suffix) can never produce the same normalised name twice.
_PREFIXES = ("py", "django", "flask", "pytest", "types", "azure", "sphinx", "jupyter", "google-cloud", "aws")
_SUFFIXES = ("utils", "client", "sdk", "plugin", "lib", "core", "cli", "tools", "async", "api")


def package_code(index: int) -> str:
    """A pronounceable, unique code for ``index`` (base-70 syllables, at least two)."""
    digits = []
    n = index
    while True:
        n, r = divmod(n, len(_SYLLABLES))
        digits.append(_SYLLABLES[r])
        if n == 0:
            break
    if len(digits) < 2:
        digits.append(_SYLLABLES[0])
    return "".join(reversed(digits))


#: The top of the ranking, most downloaded first: names a user recognises. None of them is made
#: only of the two-letter syllables above, so they never meet an invented name.
WELL_KNOWN = (
    "boto3", "urllib3", "botocore", "requests", "setuptools", "certifi", "idna", "charset-normalizer",
    "typing-extensions", "python-dateutil", "packaging", "s3transfer", "aiobotocore", "six", "numpy",
    "grpcio-status", "pyyaml", "fsspec", "s3fs", "pip", "cryptography", "pydantic", "google-api-core",
    "cffi", "attrs", "pycparser", "pandas", "importlib-metadata", "protobuf", "rsa", "wheel", "jmespath",
    "pyasn1", "click", "zipp", "platformdirs", "markupsafe", "pytz", "jinja2", "colorama", "awscli",
    "filelock", "pydantic-core", "tomli", "virtualenv", "cachetools", "pluggy", "pytest", "wrapt",
    "googleapis-common-protos", "pyjwt", "jsonschema", "sqlalchemy", "pyasn1-modules", "aiohttp",
    "h11", "anyio", "iniconfig", "sniffio", "tzdata", "pyarrow", "psutil", "multidict", "yarl",
    "frozenlist", "requests-oauthlib", "oauthlib", "docutils", "exceptiongroup", "tqdm", "httpx",
    "httpcore", "soupsieve", "beautifulsoup4", "werkzeug", "grpcio", "scipy", "pygments", "greenlet",
    "decorator", "aiosignal", "distlib", "openpyxl", "pyparsing", "isodate", "lxml", "pillow",
    "more-itertools", "flask", "tomlkit", "coverage", "rich", "markdown-it-py", "mdurl", "async-timeout",
    "pynacl", "msgpack", "gitpython", "websocket-client", "asn1crypto",
)  # fmt: skip


def package_name(index: int) -> str:
    """The normalised name of the package with popularity rank ``index``."""
    if index < len(WELL_KNOWN):
        return WELL_KNOWN[index]
    code = package_code(index)
    shape = index % 3
    if shape == 1:
        return f"{_PREFIXES[(index // 3) % len(_PREFIXES)]}-{code}"
    if shape == 2:
        return f"{code}-{_SUFFIXES[(index // 3) % len(_SUFFIXES)]}"
    return code


def index_of(name: str) -> int | None:
    """The popularity rank of a synthetic package's normalised name, or None for any other name."""
    found = _well_known_index().get(name)
    if found is not None:
        return found
    candidates = [name]
    candidates += [name[len(p) + 1 :] for p in _PREFIXES if name.startswith(p + "-")]
    candidates += [name[: -len(s) - 1] for s in _SUFFIXES if name.endswith("-" + s)]
    for code in candidates:
        index = _decode(code)
        if index is not None and index >= len(WELL_KNOWN) and package_name(index) == name:
            return index
    return None


@functools.lru_cache(maxsize=1)
def _well_known_index() -> dict[str, int]:
    return {name: i for i, name in enumerate(WELL_KNOWN)}


def _decode(code: str) -> int | None:
    """The number :func:`package_code` wrote as ``code`` (None when it is not made of syllables)."""
    if len(code) < 4 or len(code) % 2 or len(code) > 16:
        return None
    n = 0
    for k in range(0, len(code), 2):
        syllable = code[k : k + 2]
        if syllable not in _SYLLABLE_INDEX:
            return None
        n = n * len(_SYLLABLES) + _SYLLABLE_INDEX[syllable]
    return n


_SYLLABLE_INDEX = {s: i for i, s in enumerate(_SYLLABLES)}


def version_string(package: int, release: int) -> str:
    """The version string of a package's ``release``-th release (its own scheme)."""
    scheme = package % 4
    if scheme == 0:
        return f"{1 + release // 40}.{(release // 8) % 5}.{release % 8}"
    if scheme == 1:
        return f"{2020 + release // 12}.{release % 12 + 1}.0"
    if scheme == 2:
        return f"0.{release}.0"
    return f"{release // 20 + 1}.{release % 20}"


def cadence(package: int) -> tuple[int, int]:
    """``(days between releases, offset)``: release ``n`` is out from day ``n * days - offset``
    after :data:`RELEASE_EPOCH`."""
    days = 7 + (package * 37) % 50
    return days, (package * 7919) % days


def release_of(package: int, day: dt.date) -> tuple[int, int]:
    """``(the newest release out on day, days since it came out)``."""
    days, offset = cadence(package)
    return divmod((day - RELEASE_EPOCH).days + offset, days)


def release_day(package: int, release: int) -> dt.date:
    """The day release ``release`` of ``package`` comes out (the first one may predate 2020)."""
    days, offset = cadence(package)
    return RELEASE_EPOCH + dt.timedelta(days=release * days - offset)


def releases(package: int, until: dt.date) -> list[tuple[str, dt.date]]:
    """Every release of ``package`` out by ``until``: ``(version, day)``, oldest first."""
    newest, _ = release_of(package, until)
    return [(version_string(package, n), release_day(package, n)) for n in range(newest + 1)]
