"""Text widths as shields' badge renderer measures them (pure, no I/O once the table is loaded).

Owns the width of a badge text in the four fonts shields' styles measure in (``11px Verdana``,
``10px Verdana``, ``bold 10px Verdana``, ``bold 11px Helvetica``). The advance widths come from
``anafanafo``, the table shields' own renderer (the npm package ``badge-maker``) measures with:
no Python library carries Verdana's widths, so its tables are kept in ``badge_widths.json.gz``
beside this module (written by ``python -m tests.support.badge_maker``; a test checks the file
against the pinned npm package and our widths against badge-maker itself).

A text's width is the sum of its code points' widths, added left to right in floating point as
the renderer adds them: control characters count 0, a code point the table lacks counts as wide
as ``m``.
"""

from __future__ import annotations

import bisect
import functools
import gzip
import json
from pathlib import Path
from typing import Final

TABLE: Final = Path(__file__).with_name("badge_widths.json.gz")
FONTS: Final = ("11px Verdana", "10px Verdana", "bold 10px Verdana", "bold 11px Helvetica")


class Font:
    """One font's widths: sorted ranges of code points with the width of each."""

    def __init__(self, ranges: list[list[float]]) -> None:
        self.lows = [int(r[0]) for r in ranges]
        self.highs = [int(r[1]) for r in ranges]
        self.widths = [float(r[2]) for r in ranges]
        self.em = 0.0
        self.em = self.char(ord("m"))

    def char(self, code: int) -> float:
        if code <= 31 or code == 127:
            return 0.0
        i = bisect.bisect_right(self.lows, code) - 1
        if i >= 0 and code <= self.highs[i]:
            return self.widths[i]
        return self.em

    def width(self, text: str) -> float:
        total = 0.0
        for ch in text:
            total += self.char(ord(ch))
        return total


@functools.lru_cache(maxsize=1)
def fonts() -> dict[str, Font]:
    """Every font's table, read once per process."""
    data = json.loads(gzip.decompress(TABLE.read_bytes()))
    return {name: Font(data["fonts"][name]) for name in FONTS}


def width(text: str, font: str = "11px Verdana") -> float:
    """The width in px of ``text`` in ``font`` (one of :data:`FONTS`)."""
    return fonts()[font].width(text)
