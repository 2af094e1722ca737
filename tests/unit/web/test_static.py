"""Static files: content coding negotiation, compressed variants, versions, the vendored bundle."""

from __future__ import annotations

import gzip
import hashlib

import brotli
import pytest

from services.web import static

#: The vendored Plotly.js basic bundle (static/vendor/README.md says where it comes from).
PLOTLY_SHA256 = "99784e3abfb07b142a15e521a439e6d9addceadb3f79553fd24c72774f0649ba"


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip, deflate", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("BR", "br"),
        ("*", "br"),
        ("*, br;q=0", "gzip"),
        ("identity", "identity"),
        ("", "identity"),
        ("gzip;q=0, br;q=0", "identity"),
        ("br;q=oops, gzip", "gzip"),
        (",,;q=1", "identity"),
    ],
)
def test_negotiate(header: str, coding: str) -> None:
    bodies = {"identity": b"x", "br": b"b", "gzip": b"g"}
    assert static.negotiate(header, bodies) == coding


def test_negotiate_only_offers_what_exists() -> None:
    assert static.negotiate("br, gzip", {"identity": b"x", "gzip": b"g"}) == "gzip"
    assert static.negotiate("br, gzip", {"identity": b"x"}) == "identity"


def test_compress_keeps_smaller_variants_only() -> None:
    text = b"function f(){return 1}\n" * 200
    bodies = static.compress(text)
    assert brotli.decompress(bodies["br"]) == text and gzip.decompress(bodies["gzip"]) == text
    assert static.compress(b"x") == {"identity": b"x"}  # compressing one byte only adds bytes


def test_every_asset_is_versioned_by_content_and_compressed() -> None:
    assets = static.load_assets()
    assert set(assets) == set(static.SOURCES)
    for name, asset in assets.items():
        body = static.SOURCES[name].read_bytes()
        assert asset.version == hashlib.sha256(body).hexdigest()[:16]
        assert asset.bodies["identity"] == body and {"br", "gzip"} <= set(asset.bodies)
    files = static.StaticFiles()
    assert files.url("app.js") == f"/static/{assets['app.js'].version}/app.js"


def test_the_vendored_plotly_bundle_is_the_documented_one() -> None:
    body = static.SOURCES["plotly-basic.min.js"].read_bytes()
    assert hashlib.sha256(body).hexdigest() == PLOTLY_SHA256, "update static/vendor/README.md too"
    assert b"plotly.js (basic - minified) v4.1.1" in body[:200]
