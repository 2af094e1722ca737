"""Validating and encoding package-days before they are published, and merging two spellings.

Owns the rules a package-day must pass on the producer side (the same as ``shared.events.Counts``
and ``PackageDay``), each failure named by a reason for the skipped-package-days metric, and the
hot-path encoder that writes the exact bytes of ``PackageDay.to_bytes()`` without building the
model (a unit test holds the two equal).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from shared.events import (
    DIMENSIONS,
    OTHER,
    SCHEMA_VERSION,
    TEXT_DIMENSIONS,
    Counts,
    PackageDay,
    category_limit,
    package_day_msg_id,
    valid_category,
)

from .sources.base import RawCounts


class InvalidPackageDay(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


#: Categories already found valid, per dimension (real data has a few dozen; capped anyway).
_KNOWN: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
_KNOWN_CAP = 10_000
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def check_run_fields(run_id: str, source: str) -> None:
    """The per-run fields of every package-day, validated once (the same rules as ``PackageDay``)."""
    PackageDay(day=dt.date(2000, 1, 1), package="x", counts=Counts(), run_id=run_id, source=source)


@dataclass(frozen=True)
class EncodedPackageDay:
    """One validated package-day, ready to publish."""

    package: str
    msg_id: str
    payload: bytes
    rows: int
    downloads_with_mirrors: int


def encode_package_day(
    day: dt.date, package: str, counts: RawCounts, run_id: str, source: str
) -> EncodedPackageDay:
    """Validate one package-day and encode it, or raise :class:`InvalidPackageDay`.

    ``package`` must already be normalised and validated, and ``run_id``/``source`` checked once by
    :func:`check_run_fields`. This applies every remaining rule of ``Counts`` (known dimension and
    category, integer, non-negative, at most ``category_limit`` categories), naming the failure;
    in the free-text dimensions (version, installer, country, file_type) a category the events
    cannot carry (too long, control characters) and the smallest categories beyond the limit are
    counted under ``other`` instead, so the dimension still adds up. It writes the
    exact bytes ``PackageDay(...).to_bytes()`` would (a unit test holds the two equal) without
    building the model: the hot path of a 200k-package day.
    """
    clean: dict[str, dict[str, int]] = {}
    rows = 0
    for dimension, values in counts.items():
        if dimension not in DIMENSIONS or not isinstance(values, dict):
            raise InvalidPackageDay("unknown_category", f"unknown dimension {dimension!r}")
        text = dimension in TEXT_DIMENSIONS
        if len(values) > category_limit(dimension) and not text:
            raise InvalidPackageDay(
                "invalid", f"{dimension}: more than {category_limit(dimension)} categories"
            )
        kept: dict[str, int] = {}
        known = _KNOWN[dimension]
        for category, downloads in values.items():
            if category not in known:
                if not isinstance(category, str) or not valid_category(dimension, category):
                    if not (text and isinstance(category, str)):
                        raise InvalidPackageDay(
                            "unknown_category", f"{dimension}: unknown category {category!r}"
                        )
                    category = OTHER
                elif len(known) < _KNOWN_CAP:
                    known.add(category)
            if type(downloads) is not int:
                raise InvalidPackageDay(
                    "bad_count", f"{dimension}/{category}: count {downloads!r} is not an integer"
                )
            if downloads < 0:
                raise InvalidPackageDay(
                    "negative_count", f"{dimension}/{category}: negative count {downloads}"
                )
            if downloads:
                kept[category] = kept.get(category, 0) + downloads
        if text and len(kept) > category_limit(dimension):
            kept = fold(kept, category_limit(dimension))
        clean[dimension] = kept
        rows += len(kept)
    if rows == 0:
        raise InvalidPackageDay("empty", "no downloads in any category")
    body = _ENCODER.encode(
        {
            "schema_version": SCHEMA_VERSION,
            "kind": "package_day",
            "day": day.isoformat(),
            "package": package,
            "counts": {d: clean.get(d, {}) for d in DIMENSIONS},
            "run_id": run_id,
            "source": source,
        }
    )
    return EncodedPackageDay(
        package=package,
        msg_id=package_day_msg_id(day, package, run_id),
        payload=body.encode(),
        rows=rows,
        downloads_with_mirrors=clean.get("overall", {}).get("with_mirrors", 0),
    )


def fold(values: dict[str, int], limit: int) -> dict[str, int]:
    """The ``limit - 1`` largest categories of ``values``, the rest summed under ``other``."""
    ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[: limit - 1])
    rest = sum(n for c, n in ranked[limit - 1 :]) + kept.pop(OTHER, 0)
    if rest:
        kept[OTHER] = rest
    return kept


def merge_counts(into: RawCounts, more: RawCounts) -> None:
    """Add ``more`` to ``into`` (two spellings of one package on one day).

    A value that is not a non-negative integer is kept as it is (a sum would hide it), so the
    merged package-day fails validation exactly as either half would.
    """
    for dimension, values in more.items():
        target = into.setdefault(dimension, {})
        if not isinstance(target, dict) or not isinstance(values, dict):
            into[dimension] = values if not isinstance(values, dict) else target
            continue
        for category, downloads in values.items():
            have = target.get(category, 0)
            if type(have) is not int or have < 0:
                continue
            if type(downloads) is not int or downloads < 0:
                target[category] = downloads
            else:
                target[category] = have + downloads
