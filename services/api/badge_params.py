"""Pure parsing of a badge's query parameters, and the text a badge shows.

Owns what ``badge.svg`` and ``shields.json`` accept: ``period`` (``day``, ``week``, ``month``
(the default), ``year`` or ``total``), ``who=people`` (downloads by people: the overall category
``people``), ``version`` (one version exactly as logged, or a prefix such as ``2.*``), ``units``
(``compact``, ``full``, ``none``), ``style`` (shields' five), ``label`` (empty: no label),
``label_color`` and ``color`` (shields' named colours or hex), and ``metric`` (``downloads`` or
``rank``). Each parser raises :class:`~services.api.params.ParamError` naming the parameter; the
view turns it into a badge saying so. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from services.api import badges
from services.api.params import ParamError

Period = Literal["day", "week", "month", "year", "total"]
PERIODS: Final[tuple[Period, ...]] = ("day", "week", "month", "year", "total")
METRICS: Final = ("downloads", "rank")
MAX_LABEL = 64
MAX_VERSION = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class BadgeQuery:
    """One badge request, parsed. ``label`` None means the default label; colours are as given
    (normalised: a named colour in lower case, hex without ``#``)."""

    period: Period = "month"
    people: bool = False
    version: str | None = None
    units: badges.Units = "compact"
    style: badges.Style = "flat"
    label: str | None = None
    label_color: str | None = None
    color: str | None = None
    metric: str = "downloads"

    def cache_part(self) -> str:
        return repr(
            (self.period, self.people, self.version, self.units, self.style, self.label)
            + (self.label_color, self.color, self.metric)
        )

    @property
    def version_prefix(self) -> str | None:
        """``2.`` for ``version=2.*`` (None for an exact version)."""
        if self.version is None or not self.version.endswith("*"):
            return None
        return self.version[:-1]

    def counts_version(self, version: str) -> bool:
        """Whether downloads of ``version`` (as logged) count on this badge."""
        prefix = self.version_prefix
        if prefix is None:
            return version == self.version
        return version.startswith(prefix) or version == prefix.rstrip(".")

    def default_label(self) -> str:
        """``downloads/month``; ``people downloads/week``; ``downloads 2.*/year``; ``downloads``
        for all time; ``rank/month`` for the rank."""
        if self.metric == "rank":
            return f"rank{' by people' if self.people else ''}/month"
        base = "people downloads" if self.people else "downloads"
        if self.version is not None:
            base = f"{base} {self.version}"
        return base if self.period == "total" else f"{base}/{self.period}"

    def text(self, downloads: int) -> tuple[str, str]:
        """(label, message) of a download count."""
        label = self.default_label() if self.label is None else self.label
        return label, badges.count(downloads, self.units)

    def svg_colors(self) -> tuple[str, str | None]:
        """(message colour, label colour or None) as SVG colours."""
        found = badges.color(self.color) if self.color is not None else None
        label = badges.color(self.label_color) if self.label_color is not None else None
        return found or badges.COLOR, label

    def error_label(self) -> str:
        return self.default_label() if self.label is None else self.label


def _value(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    return value if value else None


def _choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _value(query, name)
    if value is None:
        return default
    if value.lower() not in allowed:
        raise ParamError(name, f"{name} must be one of {', '.join(allowed)}")
    return value.lower()


def style_of(query: Mapping[str, str]) -> badges.Style:
    """The style asked for, or ``flat`` when it is missing or bad (so a failure's badge still
    comes in the style the page asked for whenever it can)."""
    value = (query.get("style") or "").lower()
    for style in badges.STYLES:
        if value == style:
            return style
    return "flat"


def _color(query: Mapping[str, str], name: str) -> str | None:
    value = _value(query, name)
    if value is None:
        return None
    value = value.strip()
    if badges.color(value) is None:
        raise ParamError(name, f"{name} must be a named colour such as blue or a hex colour such as 007ec6")
    return value.lower().lstrip("#")


def _label(query: Mapping[str, str]) -> str | None:
    if "label" not in query:
        return None
    value = query["label"]
    if len(value) > MAX_LABEL or _CONTROL.search(value):
        raise ParamError("label", f"label must be at most {MAX_LABEL} printable characters")
    return value.strip()


def _version(query: Mapping[str, str]) -> str | None:
    value = _value(query, "version")
    if value is None:
        return None
    if len(value) > MAX_VERSION or _CONTROL.search(value) or "*" in value[:-1] or value == "*":
        raise ParamError("version", "version must be a version as logged (2.31.0) or a prefix such as 2.*")
    return value


def badge_query(query: Mapping[str, str]) -> BadgeQuery:
    """Every badge parameter, checked; raises ParamError naming the first bad one."""
    period = _choice(query, "period", PERIODS, "month")
    who = _choice(query, "who", ("all", "people"), "all")
    units = _choice(query, "units", badges.UNITS, "compact")
    _choice(query, "style", badges.STYLES, "flat")
    metric = _choice(query, "metric", METRICS, "downloads")
    version = _version(query)
    if version is not None and who == "people":
        raise ParamError(
            "version", "version cannot be combined with who=people (people are not counted by version)"
        )
    if metric == "rank" and version is not None:
        raise ParamError("metric", "metric=rank ranks whole packages: it takes no version")
    return BadgeQuery(
        period=period,  # type: ignore[arg-type]
        people=who == "people",
        version=version,
        units=units,  # type: ignore[arg-type]
        style=style_of(query),
        label=_label(query),
        label_color=_color(query, "label_color"),
        color=_color(query, "color"),
        metric=metric,
    )
