"""Pure parsing of the API's path and query parameters.

Owns what every parameter may be and how it is canonicalised: the package name (PEP 503), `period`,
`mirrors`, `who`, `version` (with ``group`` and ``spec``), `os`, `installer`, `country`, `file_type`, `ci`,
`platform`, `abi`, `start_date`/`end_date`, `bin` and `limit`. Each parser takes the raw query
mapping and returns plain values, or raises :class:`ParamError` naming the parameter, so a bad
value becomes a 400 before anything touches Redis or PostgreSQL. It also owns which days a series
answers (:meth:`SeriesQuery.window`): the requested range, by default the last
``DEFAULT_WINDOW_DAYS`` days before the last complete day, clipped to the complete days kept.
Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from shared.bins import BINS, Bin
from shared.config import DEFAULT_WINDOW_DAYS
from shared.openapi import MAX_VERSION_LIMIT
from shared.packages import InvalidPackageName, validate
from shared.versions import Grouping, GroupingError

PERIODS = ("day", "week", "month")
OS_CATEGORIES = {c.lower(): c for c in ("Windows", "Linux", "Darwin", "other", "null")}
MAJOR = re.compile(r"^([0-9]{1,3}|null)$")
MINOR = re.compile(r"^([0-9]{1,3}\.[0-9]{1,3}|null)$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CI_CATEGORIES = ("true", "false", "null")
_BIN_OF: dict[str, Bin] = {"day": "day", "week": "week", "month": "month", "year": "year"}
MAX_TOP = 100
DEFAULT_TOP = 20
_SHOWN = 40  # at most this many characters of a bad value are echoed in a message


class ParamError(ValueError):
    """A parameter with a value that is not allowed; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class SeriesQuery:
    """Filters of one time-series request: the stored category (or None for all), the date range
    as asked (None when not given), ``/version``'s ``limit`` and the bin."""

    category: str | None
    start: dt.date | None
    end: dt.date | None
    limit: int | None = None
    bin: Bin = "day"
    #: ``/version``'s ``group`` and ``spec`` (shared.versions); None: versions as logged.
    grouping: Grouping | None = None

    def cache_part(self) -> str:
        # repr() quotes the category: free-text categories may hold any printable character, '|' too.
        # An absent start_date is cached as '' (the default window): the cache version changes
        # with the last complete day, so the key never outlives the window it was built for.
        part = f"{self.category!r}|{self.start or ''}|{self.end or ''}|{self.limit or ''}|{self.bin}"
        return part if self.grouping is None else f"{part}|{self.grouping.key()}"

    def window(self, first: dt.date | None, last: dt.date | None) -> tuple[dt.date, dt.date] | None:
        """The days the answer covers, ``(first day, last day)``, or None when it covers none: the
        requested range, ``start_date`` defaulting to ``DEFAULT_WINDOW_DAYS`` before the last
        complete day ``last`` and ``end_date`` to ``last``, clipped to the complete days kept
        (``first``..``last``, shared.rollups.history_span). Bins are partial against it."""
        if last is None:
            return None
        start = self.start if self.start is not None else last - dt.timedelta(days=DEFAULT_WINDOW_DAYS)
        end = last if self.end is None or self.end > last else self.end
        if first is not None and start < first:
            start = first
        return (start, end) if start <= end else None


def _shown(value: str) -> str:
    text = value if len(value) <= _SHOWN else value[:_SHOWN] + "..."
    return repr(text)


def _get(query: Mapping[str, str], name: str) -> str | None:
    """The value, or None when absent or empty (``?period=`` means no filter, as the client sends it)."""
    value = query.get(name)
    return value if value else None


@functools.lru_cache(maxsize=4096)
def package(raw: str) -> str:
    """The normalised package name from the path (remembered: the same few names come again and again)."""
    try:
        return validate(raw)
    except InvalidPackageName as exc:
        raise ParamError("package", str(exc)) from None


def period(query: Mapping[str, str], default: str | None = None) -> str | None:
    value = _get(query, "period")
    if value is None:
        return default
    if value.lower() not in PERIODS:
        raise ParamError("period", f"period must be one of day, week, month (got {_shown(value)})")
    return value.lower()


def _date(query: Mapping[str, str], name: str) -> dt.date | None:
    value = _get(query, name)
    if value is None:
        return None
    if DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ParamError(name, f"{name} must be a date as YYYY-MM-DD (got {_shown(value)})")


def date_range(query: Mapping[str, str]) -> tuple[dt.date | None, dt.date | None]:
    start, end = _date(query, "start_date"), _date(query, "end_date")
    if start is not None and end is not None and end < start:
        raise ParamError("end_date", f"end_date ({end}) is before start_date ({start})")
    return start, end


def bin_of(query: Mapping[str, str]) -> Bin:
    """``bin``: ``day`` (the default: the daily series as pypistats.org answers it), ``week``
    (ISO weeks, from Monday), ``month`` or ``year``, in any letter case."""
    value = _get(query, "bin")
    if value is None:
        return "day"
    found = _BIN_OF.get(value.lower())
    if found is not None:
        return found
    raise ParamError("bin", f"bin must be one of {', '.join(BINS)} (got {_shown(value)})")


def _series(query: Mapping[str, str], category: str | None, limit: int | None = None) -> SeriesQuery:
    """The query of one series: its category filter, the date range, ``limit`` and the bin."""
    start, end = date_range(query)
    return SeriesQuery(category, start, end, limit, bin_of(query))


def overall(query: Mapping[str, str]) -> SeriesQuery:
    """``/overall``: ``mirrors`` (one of pypistats.org's two categories), or ``who=people``
    (the category ``people`` alone; not with ``mirrors``)."""
    who = _get(query, "who")
    if who is not None:
        if who.lower() not in ("all", "people"):
            raise ParamError("who", f"who must be all or people (got {_shown(who)})")
        if who.lower() == "people":
            if _get(query, "mirrors") is not None:
                raise ParamError("who", "who=people counts no mirrors: leave mirrors out")
            return _series(query, "people")
    value = _get(query, "mirrors")
    category = None
    if value is not None:
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise ParamError("mirrors", f"mirrors must be true or false (got {_shown(value)})")
        category = "with_mirrors" if lowered == "true" else "without_mirrors"
    return _series(query, category)


def _version(query: Mapping[str, str], pattern: re.Pattern[str], example: str) -> str | None:
    value = _get(query, "version")
    if value is None:
        return None
    if not pattern.match(value.lower()):
        raise ParamError("version", f"version must look like {example} or be null (got {_shown(value)})")
    return value.lower()


def python_major(query: Mapping[str, str]) -> SeriesQuery:
    return _series(query, _version(query, MAJOR, "3"))


def python_minor(query: Mapping[str, str]) -> SeriesQuery:
    return _series(query, _version(query, MINOR, "3.12"))


def system(query: Mapping[str, str]) -> SeriesQuery:
    value = _get(query, "os")
    category = None
    if value is not None:
        category = OS_CATEGORIES.get(value.lower())
        if category is None:
            raise ParamError(
                "os", f"os must be one of Windows, Linux, Darwin, other, null (got {_shown(value)})"
            )
    return _series(query, category)


def _text(query: Mapping[str, str], name: str, longest: int) -> str | None:
    """A free-text category as logged: printable, at most ``longest`` characters."""
    value = _get(query, name)
    if value is not None and (len(value) > longest or CONTROL.search(value)):
        raise ParamError(name, f"{name} must be at most {longest} printable characters (got {_shown(value)})")
    return value


def version(query: Mapping[str, str]) -> SeriesQuery:
    """``/version``: one version exactly as logged, ``group`` (major or minor) and ``spec`` (PEP 440
    specifier sets, repeatable) to sum versions into groups (shared.versions), and ``limit`` (top
    N plus ``other``, of the groups when grouped)."""
    top = _whole(query, "limit", MAX_VERSION_LIMIT)
    found = _series(query, _text(query, "version", 128), top)
    getall = getattr(query, "getall", None)
    specs = [s for s in (getall("spec", []) if getall else [query.get("spec", "")]) if s]
    try:
        grouping = Grouping.of(_get(query, "group"), specs)
    except GroupingError as exc:
        raise ParamError(exc.parameter, exc.message) from None
    return found if grouping is None else replace(found, grouping=grouping)


def installer(query: Mapping[str, str]) -> SeriesQuery:
    """``/installer``: one installer exactly as logged (letter case matters: it is how it was logged)."""
    return _series(query, _text(query, "installer", 64))


def country(query: Mapping[str, str]) -> SeriesQuery:
    """``/country``: one country code in any letter case (codes are logged in upper case), or null."""
    value = _text(query, "country", 16)
    if value is not None:
        value = "null" if value.lower() == "null" else value.upper()
    return _series(query, value)


def file_type(query: Mapping[str, str]) -> SeriesQuery:
    return _series(query, _text(query, "file_type", 32))


def platform(query: Mapping[str, str]) -> SeriesQuery:
    """``/platform``: one platform exactly as named (shared.platforms: ``manylinux x86_64``, ``any``)."""
    return _series(query, _text(query, "platform", 64))


def abi(query: Mapping[str, str]) -> SeriesQuery:
    """``/abi``: one ABI in any letter case (ABI tags are lower case: ``cp313t``, ``abi3``)."""
    value = _text(query, "abi", 32)
    return _series(query, value.lower() if value is not None else None)


def ci(query: Mapping[str, str]) -> SeriesQuery:
    value = _get(query, "ci")
    if value is not None and value.lower() not in CI_CATEGORIES:
        raise ParamError("ci", f"ci must be true, false or null (got {_shown(value)})")
    return _series(query, value.lower() if value is not None else None)


def _whole(query: Mapping[str, str], name: str, highest: int) -> int | None:
    """A whole number from 1 to ``highest``, or None when absent."""
    value = _get(query, name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 3) or not 1 <= int(value) <= highest:
        raise ParamError(name, f"{name} must be a whole number from 1 to {highest} (got {_shown(value)})")
    return int(value)


def limit(query: Mapping[str, str]) -> int:
    found = _whole(query, "limit", MAX_TOP)
    return DEFAULT_TOP if found is None else found
