"""The trend choices of the chart pages' URLs (pure, no I/O): ``?mean=7|28`` (a rolling mean of
daily bins), ``?pct=<chart ids>`` (the charts drawn as percentages), ``?people=1`` (the overall
chart's people only) and ``?index=1`` (compare: indexed growth, 100 = the first whole bin shown).

The browser draws them (static/trends.js reads and writes them, app.js applies them to the data
the page carries), so they change nothing the server builds and are not part of the page
cache's key; the server only checks them, so a bad link gets a clear 400 page rather than a view
that silently differs from what it says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from services.web.ranges import RangeError

#: The rolling means offered, in days (static/trends.js's MEANS).
MEANS: Final = (7, 28)
#: A chart id in ``?pct=`` (the charts' ids are dimension names).
CHART_ID: Final = re.compile(r"[a-z_]{1,40}")
MAX_PCT: Final = 20


@dataclass(frozen=True)
class Trend:
    mean: int | None = None
    pct: tuple[str, ...] = ()
    people: bool = False
    index: bool = False


def flag(query: Mapping[str, str], name: str, meaning: str) -> bool:
    raw = query.get(name, "")
    if raw not in ("", "0", "1"):
        raise RangeError(name, f"{name} must be 1 ({meaning}) or 0")
    return raw == "1"


def parse(query: Mapping[str, str]) -> Trend:
    """The trend choices in ``query``; raises RangeError (a 400 page) for a bad one."""
    raw_mean = query.get("mean", "")
    if raw_mean not in ("", *map(str, MEANS)):
        raise RangeError("mean", "mean must be " + " or ".join(map(str, MEANS)) + " (days)")
    pct = tuple(p for p in query.get("pct", "").split(",") if p)
    if len(pct) > MAX_PCT or not all(CHART_ID.fullmatch(p) for p in pct):
        raise RangeError(
            "pct", "pct must be a comma-separated list of chart ids, such as system,python_minor"
        )
    return Trend(
        mean=int(raw_mean) if raw_mean else None,
        pct=pct,
        people=flag(query, "people", "downloads by people only"),
        index=flag(query, "index", "indexed growth"),
    )
