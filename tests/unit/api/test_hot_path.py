"""Pure parts of the hot path: the memory LRU, Cache-Control memo, rate-limit allotments and the
body writers (daily and binned series)."""

from __future__ import annotations

import datetime as dt
import json

from services.api.cache import CacheControl, Entry, LocalCache, max_age
from services.api.ratelimit import MAX_BATCH, Allotment
from services.api.views import binned_body, dumps, series_body
from shared import bins, series


def entry(size: int) -> Entry:
    return Entry.build(b"x" * size, "application/json", None)


def test_local_cache_is_keyed_by_version_expires_and_is_bounded() -> None:
    cache = LocalCache(max_bytes=250, ttl=10)
    assert cache.get("1", "a", now=0) is None  # switches to version 1
    cache.put("1", "a", entry(100), now=0)
    cache.put("1", "b", entry(100), now=0)
    assert cache.get("1", "a", now=5) is not None  # "a" is now the most recently used
    cache.put("1", "c", entry(100), now=5)  # over 250 bytes: the least recently used ("b") goes
    assert cache.get("1", "b", now=5) is None and cache.size == 200 and len(cache) == 2
    assert cache.get("1", "a", now=10) is None  # expired after the TTL
    cache.put("1", "huge", entry(251), now=5)  # larger than the whole budget: not kept
    assert cache.get("1", "huge", now=5) is None
    # A new version empties the cache; a body built under the old one is not stored afterwards.
    assert cache.get("2", "c", now=6) is None and len(cache) == 0 and cache.size == 0
    cache.put("1", "c", entry(10), now=6)
    assert cache.get("2", "c", now=6) is None
    cache.put("2", "c", entry(10), now=6)
    assert cache.get("2", "c", now=6) is not None


def test_the_previous_versions_entries_are_kept_aside_for_a_while() -> None:
    cache = LocalCache(max_bytes=1000, ttl=600, stale_for=60)
    cache.get("1", "a", now=0)
    cache.put("1", "a", entry(10), now=0)
    assert cache.get_stale("a", now=1) is None  # nothing set aside yet
    assert cache.get("2", "a", now=10) is None  # a new version: "a" must be built again ...
    old = cache.get_stale("a", now=11)  # ... and meanwhile the old body may be answered
    assert old is not None and old.body == b"x" * 10 and cache.get_stale("b", now=11) is None
    assert cache.get_stale("a", now=70) is None  # not after stale_for
    cache.put("2", "a", entry(20), now=71)
    cache.clear(now=80)  # rollups.updated: the same, from the moment it arrived
    assert cache.get_stale("a", now=81) is not None and cache.get_stale("a", now=81).body == b"x" * 20  # type: ignore[union-attr]
    off = LocalCache(max_bytes=1000, ttl=600)  # CACHE_STALE_SECONDS=0
    off.get("1", "a", now=0)
    off.put("1", "a", entry(10), now=0)
    off.get("2", "a", now=1)
    assert off.get_stale("a", now=1) is None


def test_cache_control_matches_max_age() -> None:
    update = dt.time(1, 30, tzinfo=dt.UTC)
    control = CacheControl(update, 300)
    assert control.value(None) == "public, max-age=300"
    today = dt.datetime.now(dt.UTC).date()
    seconds = int(control.value(today - dt.timedelta(days=1)).rsplit("=", 1)[1])
    expected = max_age(today - dt.timedelta(days=1), dt.datetime.now(dt.UTC), update, 300)
    assert abs(seconds - expected) <= 1
    assert control.value(today - dt.timedelta(days=30)) == "public, max-age=300"  # overdue


def test_small_limits_are_counted_one_request_at_a_time() -> None:
    allotment = Allotment(limit=3, cap=Allotment.cap_for(3))
    assert allotment.cap == 1 and allotment.take(now=0) is None  # nothing reserved yet
    assert allotment.size(now=0) == 1
    allotment.reserved(1, last=2, ttl_ms=60_000, now=0)  # another replica took number 1
    first = allotment.take(now=1)
    assert first is not None and first.allowed and first.remaining == 1 and first.reset == 59
    assert not allotment.wants_more()  # no reservation ahead of need for an exact limit
    assert allotment.take(now=1) is None  # used up: reserve again
    allotment.reserved(allotment.size(now=1), last=4, ttl_ms=59_000, now=1)
    refused = allotment.take(now=1)
    assert refused is not None and not refused.allowed and refused.remaining == 0
    # Past the limit the replica refuses locally until the window ends, then starts afresh.
    again = allotment.take(now=30)
    assert again is not None and not again.allowed and again.reset == 30
    assert allotment.take(now=60) is None and allotment.size(now=60) == 1


def test_batches_grow_are_fetched_ahead_and_stay_within_the_limit() -> None:
    limit = 1_000_000
    allotment = Allotment(limit=limit, cap=Allotment.cap_for(limit))
    assert allotment.cap == MAX_BATCH
    sizes, last, admitted = [], 0, 0
    for _ in range(12):
        size = allotment.size(now=0)
        sizes.append(size)
        last += size
        allotment.reserved(size, last=last, ttl_ms=60_000, now=0)
        while not allotment.wants_more():  # use numbers until half of the batch is left
            decision = allotment.take(now=0)
            assert decision is not None and decision.allowed
            assert decision.remaining == limit - admitted - 1
            admitted += 1
    assert sizes[:9] == [1, 2, 4, 8, 16, 32, 64, 128, 256] and max(sizes) == MAX_BATCH
    # Numbers of several reservations are used in order, each exactly once.
    assert allotment.left(now=0) == last - admitted
    while (decision := allotment.take(now=0)) is not None:
        assert decision.remaining == limit - admitted - 1
        admitted += 1
    assert admitted == last
    # Numbers of an ended window are void; a fresh counter starts a new window.
    allotment.reserved(256, last=last + 256, ttl_ms=1_000, now=0)
    assert allotment.take(now=2) is None and allotment.size(now=2) == 1
    allotment.reserved(1, last=1, ttl_ms=60_000, now=2)
    fresh = allotment.take(now=2)
    assert fresh is not None and fresh.remaining == limit - 1


def test_near_the_limit_only_what_is_left_is_reserved() -> None:
    near = Allotment(limit=1000, cap=10, batch=10)
    near.reserved(10, last=995, ttl_ms=60_000, now=0)
    assert near.size(now=0) == 5


def test_series_body_is_byte_identical_to_the_generic_encoding() -> None:
    day = dt.date(2026, 3, 31)
    rows = [("3.12", day, 5), ("Darwin", day - dt.timedelta(days=1), 10**12), ('odd"\\é\u2028', day, 1)]
    generic = dumps(
        {
            "data": [{"category": c, "date": d, "downloads": n} for c, d, n in rows],
            "package": "my-package",
            "type": "system_downloads",
        }
    )
    groups = [(c, [(d, n)]) for c, d, n in rows]
    groups[0][1].append((day + dt.timedelta(days=1), 7))
    rows.insert(1, ("3.12", day + dt.timedelta(days=1), 7))
    generic = dumps(
        {
            "data": [{"category": c, "date": d, "downloads": n} for c, d, n in rows],
            "package": "my-package",
            "type": "system_downloads",
        }
    )
    assert series_body(series.Matrix.of_groups(groups), "my-package", "system_downloads") == generic
    assert series_body(series.Matrix.empty(), "__all__", "overall_downloads") == dumps(
        {"data": [], "package": "__all__", "type": "overall_downloads"}
    )


def test_series_body_of_full_rows_and_percent_signs_is_the_generic_encoding() -> None:
    """A row with a download every day is written as one text; ``%`` in a name is not a format."""
    start = dt.date(2025, 12, 30)
    every = [start + dt.timedelta(days=k) for k in range(40)]
    groups: series.Groups = [
        ("100%d", [(d, k + 1) for k, d in enumerate(every)]),  # every day
        ("50%", [(d, 10**12) for d in every[::3]]),  # gaps
        ("%s%%", [(every[-1], 2)]),
    ]
    generic = dumps(
        {
            "data": [{"category": c, "date": d, "downloads": n} for c, days in groups for d, n in days],
            "package": "pkg%d",
            "type": "version_downloads",
        }
    )
    assert series_body(series.Matrix.of_groups(groups), "pkg%d", "version_downloads") == generic


def generic_binned(
    groups: series.Groups, bin: bins.Bin, first: dt.date, last: dt.date, package: str
) -> bytes:
    """What the binned body must be: shared.bins.binned through the generic encoder."""
    data = [
        {"category": c, "date": start, "downloads": n, "partial": partial}
        for c, rows in bins.binned(groups, bin, first, last)
        for start, n, partial in rows
    ]
    return dumps({"data": data, "package": package, "type": "python_minor_downloads"})


def test_binned_body_is_byte_identical_to_the_generic_encoding() -> None:
    first, last = dt.date(2023, 12, 20), dt.date(2026, 3, 17)  # a Wednesday mid-month, a Tuesday
    every = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    groups: series.Groups = [
        ("3.12", [(d, 10**12 + k) for k, d in enumerate(every)]),  # every day
        ("Darwin", [(d, 3) for d in every[::9]]),  # gaps across bins
        ('odd"\\é\u2028', [(every[40], 1)]),  # one day
        ("null", [(every[0], 5), (every[-1], 6)]),  # only the two partial ends
        ("7%d%%", [(d, 2) for d in every[::2]]),  # ``%`` in a name is not a format
    ]
    groups.extend(
        series.top_matrix(series.Matrix.of_groups(groups), 1).groups()[1:]
    )  # summed, as /version?limit=N has
    for bin in ("week", "month", "year"):
        for lo, hi in ((first, last), (dt.date(2024, 1, 1), dt.date(2024, 12, 31)), (last, last)):
            window = [(c, [(d, n) for d, n in days if lo <= d <= hi]) for c, days in groups]
            window = [(c, days) for c, days in window if days]
            body = binned_body(
                series.Matrix.of_groups(window), bin, lo, hi, "my-package", "python_minor_downloads"
            )
            assert body == generic_binned(window, bin, lo, hi, "my-package"), (bin, lo, hi)
    rows = json.loads(binned_body(series.Matrix.of_groups(groups), "month", first, last, "p", "t"))["data"]
    assert [(r["date"], r["partial"]) for r in rows if r["category"] == "null"] == [
        ("2023-12-01", True), ("2026-03-01", True)
    ]  # fmt: skip
    assert sum(r["downloads"] for r in rows if r["category"] == "3.12") == sum(n for _, n in groups[0][1])
    assert binned_body(series.Matrix.empty(), "year", first, last, "__all__", "overall_downloads") == dumps(
        {"data": [], "package": "__all__", "type": "overall_downloads"}
    )
