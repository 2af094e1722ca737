"""The whole-page byte cache: shells cut at their slots, the LRU bounded in bytes, versions, expiry."""

from __future__ import annotations

import gzip

import pytest

from services.web.pagebytes import ACCOUNT_SLOT, TRACK_SLOT, Entry, PageBytes, Shell, accepts_gzip


def shell(text: str, expires: float = 100.0) -> Shell:
    return Shell.cut(f"<header>{ACCOUNT_SLOT}</header><main>{TRACK_SLOT}{text}</main>", expires)


def test_a_shell_is_filled_at_its_slots() -> None:
    found = shell("é charts")
    body = found.fill("<a>Log in</a>", "<div>track</div>")
    assert body == "<header><a>Log in</a></header><main><div>track</div>é charts</main>".encode()
    assert found.size == len(body) - len("<a>Log in</a><div>track</div>")


@pytest.mark.parametrize(
    "html",
    ["no slots", f"{TRACK_SLOT}{ACCOUNT_SLOT}", f"{ACCOUNT_SLOT}{TRACK_SLOT}{TRACK_SLOT}", f"{ACCOUNT_SLOT}"],
)
def test_a_shell_needs_each_slot_once_account_first(html: str) -> None:
    with pytest.raises(ValueError):
        Shell.cut(html, 1.0)


def test_the_etag_follows_the_bytes() -> None:
    etag = Entry.build(b"a", 1.0).etag
    assert etag == Entry.build(b"a", 2.0).etag != Entry.build(b"b", 1.0).etag
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 26


def test_lru_bounded_in_bytes_drops_the_least_recent() -> None:
    one = Entry.build(b"x" * 100, 50.0).size  # the body and its gzip variant
    cache = PageBytes(one * 5 // 2, 60, 10)
    assert cache.entry(1, "/a", 0) is None  # learns version 1
    for path in ("/a", "/b", "/c"):
        cache.put_entry(1, path, Entry.build(b"x" * 100, 50.0))
        cache.entry(1, "/a", 0)  # /a stays the most recent
    assert cache.entry(1, "/a", 0) is not None and cache.entry(1, "/c", 0) is not None
    assert cache.entry(1, "/b", 0) is None and cache.size == 2 * one
    cache.put_entry(1, "/big", Entry.build(bytes(range(256)) * 4, 50.0))  # larger than the whole cache
    assert cache.entry(1, "/big", 0) is None and cache.size == 2 * one


def test_a_new_version_empties_it_and_late_puts_of_the_old_one_are_dropped() -> None:
    cache = PageBytes(10_000, 60, 10)
    cache.shell(1, "p", 0)
    cache.put_shell(1, "p", shell("one"))
    assert cache.shell(1, "p", 0) is not None
    assert cache.shell(2, "p", 0) is None and len(cache) == 0 and cache.size == 0
    cache.put_shell(1, "p", shell("late"))
    assert len(cache) == 0


def test_entries_expire() -> None:
    cache = PageBytes(10_000, 60, 10)
    cache.entry(1, "/a", 0)
    cache.put_entry(1, "/a", Entry.build(b"page", 5.0))
    assert cache.entry(1, "/a", 4.9) is not None
    assert cache.entry(1, "/a", 5.0) is None and cache.size == 0


def test_failure_lifetime_never_exceeds_the_lifetime() -> None:
    assert PageBytes(1, 30, 60).failure_lifetime == 30
    assert PageBytes(1, 3600, 60).failure_lifetime == 60


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip, deflate, br", True),
        ("GZIP", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("", False),
        ("*", True),
        ("*;q=0, gzip", True),
        ("gzip;q=0, *", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding(header: str, gzip: bool) -> None:
    assert accepts_gzip(header) is gzip


def test_an_entry_round_trips_through_redis_bytes_with_its_gzip_variant() -> None:
    body = "<html>é".encode() * 500
    entry = Entry.build(body, 100.0)
    assert entry.compressed is None  # compressed only once it is sent compressed or kept
    assert gzip.decompress(entry.gzipped) == body and len(entry.gzipped) < len(body) / 10
    assert entry.compressed is entry.gzipped  # once
    assert entry.gzip_etag != entry.etag and entry.gzip_etag.endswith('-gzip"')
    loaded = Entry.load(entry.dump(now=40.0), now=40.0)
    assert (loaded.body, loaded.gzipped, loaded.etag) == (entry.body, entry.gzipped, entry.etag)
    assert abs(loaded.expires - 100.0) < 1
    with pytest.raises(ValueError):
        Entry.load(entry.dump(now=40.0)[:50], now=40.0)
