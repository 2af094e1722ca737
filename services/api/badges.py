"""Pure rendering of download badges: the SVG image and the shields.io endpoint document.

Owns number formatting (``1.2k``, ``34k``, ``3.4M``), the badge text and the SVG markup, also of
the "package not found" badge an unknown name gets. Text is
XML-escaped and widths are estimated from character counts, so any input gives a well-formed
document. Nothing here does I/O.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

LABEL = "downloads"
COLOR = "#007ec6"
LABEL_COLOR = "#555"
NOT_FOUND = "package not found"
NOT_FOUND_COLOR = "#9f9f9f"
_UNITS = ("k", "M", "B", "T")
_CHAR_WIDTH = 6.5  # average advance of Verdana 11px, close enough for short labels
_PADDING = 10


def compact(n: int) -> str:
    """1234 -> '1.2k', 12345 -> '12k', 3456789 -> '3.5M', 999999 -> '1M'; below 1000 the number itself."""
    if n < 1000:
        return str(n)
    value, unit = float(n), ""
    for candidate in _UNITS:
        value, unit = value / 1000, candidate
        text = f"{value:.1f}" if value < 9.95 else f"{value:.0f}"
        if float(text) < 1000 or candidate == _UNITS[-1]:
            return text.removesuffix(".0") + unit
    return f"{value:.0f}{unit}"  # pragma: no cover - the loop returns at the last unit


def message(downloads: int, period: str) -> str:
    return f"{compact(downloads)}/{period}"


def shields(downloads: int, period: str) -> dict[str, Any]:
    """The shields.io endpoint-badge document (https://shields.io/badges/endpoint-badge)."""
    return {"schemaVersion": 1, "label": LABEL, "message": message(downloads, period), "color": "blue"}


def _width(text: str) -> int:
    return int(len(text) * _CHAR_WIDTH + 0.5) + _PADDING


def svg(package: str, downloads: int, period: str) -> str:
    """A flat badge ``downloads | 1.2k/month`` whose title names the package."""
    value = message(downloads, period)
    return _badge(value, COLOR, f"{package}: {value} downloads")


def not_found_svg(package: str) -> str:
    """``downloads | package not found``, in grey: what a README shows for a name we do not know
    (a broken image otherwise)."""
    return _badge(NOT_FOUND, NOT_FOUND_COLOR, f"{package}: {NOT_FOUND}")


def shields_not_found() -> dict[str, Any]:
    """The shields.io document for an unknown package: ``isError`` makes shields.io draw the
    message as an error (red) and cache it briefly. It must come with a 200: shields.io reads no
    body of a 404 and would draw its own "resource not found"."""
    return {"schemaVersion": 1, "label": LABEL, "message": NOT_FOUND, "color": "lightgrey", "isError": True}


def _badge(value: str, color: str, title: str) -> str:
    label = LABEL
    lw, vw = _width(label), _width(value)
    total = lw + vw
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f"aria-label={quoteattr(f'{label}: {value}')}>"
        f"<title>{escape(title)}</title>"
        f'<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        f'<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="{LABEL_COLOR}"/>'
        f'<rect x="{lw}" width="{vw}" height="20" fill="{color}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lw / 2:.1f}" y="14">{escape(label)}</text>'
        f'<text x="{lw + vw / 2:.1f}" y="14">{escape(value)}</text></g></svg>'
    )
