"""Pure rendering of download badges: the SVG image and the shields.io endpoint document.

Owns what a badge looks like: number formatting (``units``: ``1.2M``, ``1,234,567`` or
``1234567``), colours (shields' named colours or hex), the five styles shields draws (``flat``,
``flat-square``, ``plastic``, ``for-the-badge``, ``social``) with the same geometry as shields'
own renderer, so a badge of ours is as wide as shields' badge of the same text (text widths:
services.api.textwidth; ``tests/integration/api/test_badge_widths.py`` checks them against
shields' renderer), and the badges of failures (unknown package, bad parameter, outage, rate
limit), which are well-formed images too. Text is XML-escaped, so any input gives a well-formed
document. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal
from xml.sax.saxutils import escape, quoteattr

from services.api.textwidth import width as text_width

Style = Literal["flat", "flat-square", "plastic", "for-the-badge", "social"]
Units = Literal["compact", "full", "none"]
STYLES: Final[tuple[Style, ...]] = ("flat", "flat-square", "plastic", "for-the-badge", "social")
UNITS: Final[tuple[Units, ...]] = ("compact", "full", "none")

LABEL = "downloads"
#: The message colour of a count, and its name in the shields.io document.
COLOR = "#007ec6"
SHIELDS_COLOR = "blue"
LABEL_COLOR = "#555"
NOT_FOUND = "package not found"
ERROR_COLOR = "#9f9f9f"
#: shields' named colours (what its ``color``/``labelColor`` accept besides hex), as drawn.
NAMED_COLORS: Final = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellowgreen": "#a4a61d",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "grey": "#555",
    "gray": "#555",
    "lightgrey": "#9f9f9f",
    "lightgray": "#9f9f9f",
    "success": "#4c1",
    "important": "#fe7d37",
    "critical": "#e05d44",
    "informational": "#007ec6",
    "inactive": "#9f9f9f",
}
_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_SI = ("k", "M", "B", "T")
_FONT_FAMILY = "Verdana,Geneva,DejaVu Sans,sans-serif"
_SOCIAL_FAMILY = "Helvetica Neue,Helvetica,Arial,sans-serif"


def compact(n: int) -> str:
    """1234 -> '1.2k', 12345 -> '12k', 3456789 -> '3.5M', 999999 -> '1M'; below 1000 the number itself."""
    if n < 1000:
        return str(n)
    value, unit = float(n), ""
    for candidate in _SI:
        value, unit = value / 1000, candidate
        text = f"{value:.1f}" if value < 9.95 else f"{value:.0f}"
        if float(text) < 1000 or candidate == _SI[-1]:
            return text.removesuffix(".0") + unit
    return f"{value:.0f}{unit}"  # pragma: no cover - the loop returns at the last unit


def count(n: int, units: Units = "compact") -> str:
    """``n`` as a badge shows it: ``compact`` (1.2M), ``full`` (1,234,567) or ``none`` (1234567)."""
    if units == "full":
        return f"{n:,}"
    if units == "none":
        return str(n)
    return compact(n)


def message(downloads: int, period: str) -> str:
    """The message of the badges before labels named their period: ``1.2k/month``."""
    return f"{compact(downloads)}/{period}"


def color(value: str) -> str | None:
    """The SVG colour of a named colour or a hex one (``#`` optional), or None when it is neither."""
    named = NAMED_COLORS.get(value.lower())
    if named is not None:
        return named
    found = _HEX.match(value)
    return "#" + found.group(1).lower() if found else None


def _brightness(svg_color: str) -> float:
    digits = svg_color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return round((r * 299 + g * 587 + b * 114) / 255000, 2)


def _text_colors(background: str) -> tuple[str, str]:
    """(text, shadow) colours readable on ``background``: dark text on a light colour."""
    return ("#333", "#ccc") if _brightness(background) > 0.69 else ("#fff", "#010101")


def _odd(width: float) -> int:
    """The whole width, rounded up to an odd number (as shields does, for pixel alignment)."""
    whole = int(width)
    return whole + 1 if whole % 2 == 0 else whole


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Badge:
    """What a badge says and how: ``label`` (empty: none), ``message``, SVG colours, ``style``."""

    label: str
    message: str
    color: str = COLOR
    label_color: str | None = None
    style: Style = "flat"


@dataclass(frozen=True)
class Layout:
    """Horizontal geometry of a badge in px: the two parts and the two texts' widths."""

    left: float
    right: float
    label_text: float
    message_text: float
    height: int

    @property
    def width(self) -> float:
        return self.left + self.right


def layout(badge: Badge) -> Layout:
    """The geometry shields' renderer gives the same texts in the same style (without a logo)."""
    label, message_ = badge.label.strip(), badge.message.strip()
    if badge.style == "for-the-badge":
        label, message_ = label.upper(), message_.upper()
        lt = int(text_width(label, "10px Verdana")) + 1.25 * _utf16_length(label) if label else 0.0
        mt = (
            int(text_width(message_, "bold 10px Verdana")) + 1.25 * _utf16_length(message_)
            if message_
            else 0.0
        )
        return Layout(24 + lt if label else 0.0, 24 + mt, lt, mt, 28)
    if badge.style == "social":
        label = label[:1].upper() + label[1:]
        lt = _odd(text_width(label, "bold 11px Helvetica"))
        mt = _odd(text_width(message_, "bold 11px Helvetica"))
        return Layout(lt + 11, 6 + mt + 8 if message_ else 0, lt, mt, 20)
    lt = _odd(text_width(label)) if label else 0
    mt = _odd(text_width(message_))
    has_label = bool(label) or badge.label_color is not None
    return Layout(lt + 10 if has_label else 0, mt + 10, lt, mt, 18 if badge.style == "plastic" else 20)


def svg(badge: Badge, title: str) -> str:
    """The badge as an SVG document; ``title`` is its tooltip (and, with the texts, its accessible name)."""
    geometry = layout(badge)
    label, message_ = badge.label.strip(), badge.message.strip()
    spoken = f"{label}: {message_}" if label else message_
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(geometry.width)}" height="{geometry.height}" '
        f'role="img" aria-label={quoteattr(spoken)}><title>{escape(title)}</title>'
    )
    if badge.style == "for-the-badge":
        body = _for_the_badge(badge, geometry, label.upper(), message_.upper())
    elif badge.style == "social":
        body = _social(geometry, label[:1].upper() + label[1:], message_)
    else:
        body = _plain(badge, geometry, label, message_)
    return head + body + "</svg>"


def _text(
    text: str, x: float, y: int, length: float, fill: str, shadow: str | None, opacity: str = ".3"
) -> str:
    """One text line drawn at 10x and scaled down (finer positions), with its shadow 1 px below if any."""
    attrs = f'x="{_num(x * 10)}" textLength="{_num(length * 10)}" transform="scale(.1)"'
    out = ""
    if shadow is not None:
        out = (
            f'<text aria-hidden="true" {attrs} y="{y + 10}" fill="{shadow}" fill-opacity="{opacity}">'
            f"{escape(text)}</text>"
        )
    return out + f'<text {attrs} y="{y}" fill="{fill}">{escape(text)}</text>'


def _plain(badge: Badge, g: Layout, label: str, message_: str) -> str:
    """``flat`` (the default), ``flat-square`` (square, no gradient) and ``plastic`` (glossy, 18 px)."""
    style, total, height = badge.style, _num(g.width), g.height
    label_color = badge.label_color or LABEL_COLOR
    shaded = style != "flat-square"
    parts = []
    if style == "flat":
        parts.append(
            '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
            '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        )
    elif style == "plastic":
        parts.append(
            '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#fff" stop-opacity=".7"/>'
            '<stop offset=".1" stop-color="#aaa" stop-opacity=".1"/><stop offset=".9" stop-opacity=".3"/>'
            '<stop offset="1" stop-opacity=".5"/></linearGradient>'
        )
    if shaded:
        radius = 4 if style == "plastic" else 3
        parts.append(
            f'<clipPath id="r"><rect width="{total}" height="{height}" rx="{radius}" fill="#fff"/></clipPath>'
        )
        parts.append('<g clip-path="url(#r)">')
    else:
        parts.append('<g shape-rendering="crispEdges">')
    if g.left:
        parts.append(f'<rect width="{_num(g.left)}" height="{height}" fill="{label_color}"/>')
    parts.append(f'<rect x="{_num(g.left)}" width="{_num(g.right)}" height="{height}" fill="{badge.color}"/>')
    if shaded:
        parts.append(f'<rect width="{total}" height="{height}" fill="url(#s)"/>')
    parts.append(
        f'</g><g text-anchor="middle" font-family="{_FONT_FAMILY}" text-rendering="geometricPrecision" '
        'font-size="110">'
    )
    y = 130 if style == "plastic" else 140
    if label:
        fill, shadow = _text_colors(label_color)
        parts.append(_text(label, g.left / 2, y, g.label_text, fill, shadow if shaded else None))
    fill, shadow = _text_colors(badge.color)
    parts.append(_text(message_, g.left + g.right / 2, y, g.message_text, fill, shadow if shaded else None))
    return "".join(parts) + "</g>"


def _for_the_badge(badge: Badge, g: Layout, label: str, message_: str) -> str:
    """Square, 28 px high, upper case with letter spacing; the message in bold."""
    label_color = badge.label_color or LABEL_COLOR
    parts = ['<g shape-rendering="crispEdges">']
    if g.left:
        parts.append(f'<rect width="{_num(g.left)}" height="28" fill="{label_color}"/>')
    parts.append(f'<rect x="{_num(g.left)}" width="{_num(g.right)}" height="28" fill="{badge.color}"/>')
    parts.append(
        f'</g><g text-anchor="middle" font-family="{_FONT_FAMILY}" text-rendering="geometricPrecision" '
        'font-size="100">'
    )
    if label:
        parts.append(
            _text(label, 12 + g.label_text / 2, 175, g.label_text, _text_colors(label_color)[0], None)
        )
    fill = _text_colors(badge.color)[0]
    parts.append(
        _text(message_, g.left + 12 + g.message_text / 2, 175, g.message_text, fill, None).replace(
            "<text ", '<text font-weight="bold" '
        )
    )
    return "".join(parts) + "</g>"


def _social(g: Layout, label: str, message_: str) -> str:
    """GitHub's button look: a light label button and the count in a bubble beside it."""
    inner = g.left - 1
    parts = [
        '<linearGradient id="a" x2="0" y2="100%"><stop offset="0" stop-color="#fcfcfc" stop-opacity="0"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>',
        f'<g stroke="#d5d5d5"><rect stroke="none" fill="#fcfcfc" x=".5" y=".5" width="{_num(inner)}" height="19" rx="2"/>',
    ]
    if message_:
        bubble = inner + 6.5
        parts.append(
            f'<rect x="{_num(bubble)}" y=".5" width="{_num(g.right - 6)}" height="19" rx="2" fill="#fafafa"/>'
            f'<rect x="{_num(inner + 6)}" y="7.5" width=".5" height="5" stroke="#fafafa"/>'
            f'<path d="M{_num(bubble)} 6.5 l-3 3v1 l3 3" fill="#fafafa"/>'
        )
    parts.append(
        f'</g><rect stroke="#d5d5d5" fill="url(#a)" x=".5" y=".5" width="{_num(inner)}" height="19" rx="2"/>'
        f'<g fill="#333" text-anchor="middle" font-family="{_SOCIAL_FAMILY}" text-rendering="geometricPrecision" '
        'font-weight="700" font-size="110px">'
    )
    parts.append(_text(label, 5 + g.label_text / 2, 140, g.label_text, "#333", "#fff", "1"))
    if message_:
        parts.append(_text(message_, inner + 6 + (g.right - 6) / 2, 140, g.message_text, "#333", "#fff", "1"))
    return "".join(parts) + "</g>"


def error_badge(label: str, text: str, style: Style = "flat") -> Badge:
    """A grey badge saying what went wrong (``package not found``, ``bad period``, ...)."""
    return Badge(label, text, ERROR_COLOR, None, style)


def shields(
    label: str,
    message_: str,
    color_name: str = SHIELDS_COLOR,
    label_color: str | None = None,
    style: str | None = None,
) -> dict[str, Any]:
    """The shields.io endpoint-badge document (https://shields.io/badges/endpoint-badge)."""
    doc: dict[str, Any] = {"schemaVersion": 1, "label": label, "message": message_, "color": color_name}
    if label_color is not None:
        doc["labelColor"] = label_color
    if style is not None:
        doc["style"] = style
    return doc


def shields_error(label: str, text: str) -> dict[str, Any]:
    """The shields.io document of a failure: ``isError`` makes shields.io draw the message as an
    error (red) and cache it briefly. It comes with a 200: shields.io reads no body of an error status."""
    return {"schemaVersion": 1, "label": label, "message": text, "color": "lightgrey", "isError": True}
