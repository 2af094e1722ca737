"""Our badges are as wide as shields' own renderer draws them: the npm package ``badge-maker``
(pinned in tests/badge_maker/package-lock.json, installed by tests.support.badge_maker), run
here with Node, for a set of labels and messages in every style; every width within 1 px.
Also: the width table we measure with is the one that renderer measures with."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.api import badges, textwidth
from tests.support import badge_maker
from tests.support.environment import missing, require_executable

LABELS = (
    "downloads",
    "downloads/month",
    "people downloads/week",
    "downloads 2.*/year",
    "rank",
    "Ünïcödé label",
    "中文 downloads",
    "",
    "a",
    "WWWWWWWWWW",
    "iiiiiiiiiiiiiii",
    '<b>&"quotes"\'',
    "  padded  ",
    "MixedCase With Spaces and 123",
)
MESSAGES = (
    "0",
    "1.2k",
    "999",
    "31k",
    "3.5M",
    "1,234,567",
    "1234567890",
    "#1 · top 1%",
    "package not found",
    "bad period",
)
STYLES = badges.STYLES
WIDTH = re.compile(r'<svg[^>]* width="([0-9.]+)"')
TEXT_LENGTH = re.compile(r'textLength="([0-9.]+)"')


@pytest.fixture(scope="module")
def renderer() -> tuple[str, Path]:
    node = require_executable("node")
    npm = shutil.which("npm")
    if npm is None:
        missing("npm: not found on PATH", "Debian package npm; .ci/run installs it when run as root")
    try:
        return node, badge_maker.ensure_badge_maker(npm)
    except subprocess.CalledProcessError as exc:
        missing("badge-maker (npm ci failed)", exc.stderr.decode(errors="replace")[-500:])


def widths(svg: str) -> tuple[float, list[float]]:
    """The badge's width and its texts' widths (each text once, in order)."""
    found = WIDTH.search(svg)
    assert found is not None, svg[:200]
    lengths = list(dict.fromkeys(float(x) / 10 for x in TEXT_LENGTH.findall(svg)))
    return float(found.group(1)), lengths


def cases() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for style, (label, message) in itertools.product(STYLES, itertools.product(LABELS, MESSAGES)):
        out.append({"label": label, "message": message, "style": style})
    for style in STYLES:  # a label colour without a label still draws the label part
        out.append({"label": "", "message": "1.2k", "style": style, "labelColor": "#e05d44", "color": "#4c1"})
    return out


def test_every_width_is_within_a_pixel_of_shields_renderer(renderer: tuple[str, Path]) -> None:
    node, installed = renderer
    asked = cases()
    theirs = badge_maker.render(node, installed, asked)
    assert len(theirs) == len(asked) > 700
    worst = 0.0
    for case, their_svg in zip(asked, theirs, strict=True):
        badge = badges.Badge(
            case["label"], case["message"], badges.COLOR, case.get("labelColor"), case["style"]
        )
        ours = badges.svg(badge, "title")
        (our_width, our_texts), (their_width, their_texts) = widths(ours), widths(their_svg)
        assert abs(our_width - their_width) <= 1, (case, our_width, their_width)
        assert len(our_texts) == len(their_texts), (case, our_texts, their_texts)
        for a, b in zip(our_texts, their_texts, strict=True):
            assert abs(a - b) <= 1, (case, our_texts, their_texts)
        worst = max(worst, abs(our_width - their_width))
    assert worst <= 1


def test_the_width_table_is_the_renderers_own(renderer: tuple[str, Path]) -> None:
    """services/api/badge_widths.json.gz holds anafanafo's tables of the pinned badge-maker
    (``python -m tests.support.badge_maker`` rewrites it when the pin moves)."""
    _, installed = renderer
    expected = badge_maker.anafanafo_tables(installed)
    import gzip
    import json

    stored = json.loads(gzip.decompress(textwidth.TABLE.read_bytes()))
    assert stored["anafanafo"] == expected["anafanafo"]
    assert stored["fonts"] == expected["fonts"]
