"""The discovery rules without I/O: the minimum size, each CI-burst edge, the rankings."""

from __future__ import annotations

from shared.discovery import MIN_EARLIER_DOWNLOADS, Windows, ci_burst, rank_top, rank_trending, trends


def w(earlier: int, recent: int, earlier_ci: int = 0, recent_ci: int = 0, package: str = "p") -> Windows:
    return Windows(package, earlier, recent, earlier_ci, recent_ci)


def test_minimum_size_is_inclusive() -> None:
    assert trends(w(MIN_EARLIER_DOWNLOADS, MIN_EARLIER_DOWNLOADS + 1))
    assert not trends(w(MIN_EARLIER_DOWNLOADS - 1, 100 * MIN_EARLIER_DOWNLOADS))


def test_only_growth_trends() -> None:
    assert not trends(w(2000, 2000))
    assert not trends(w(2000, 1999))
    assert not ci_burst(w(2000, 1000, 0, 1000))  # no gain: nothing to explain


def test_ci_part_of_the_gain_edge() -> None:
    # gain 1000; CI gain exactly half: kept; one more CI download: a burst (CI share flat)
    assert not ci_burst(w(2000, 3000, 1000, 1500))
    assert ci_burst(w(2000, 3000, 1000, 1501))
    assert trends(w(2000, 3000, 1000, 1500)) and not trends(w(2000, 3000, 1000, 1501))


def test_ci_share_jump_edge() -> None:
    # the share rises from 0 to exactly 25 points: kept; just over: a burst (CI gain a third)
    assert not ci_burst(w(1000, 4000, 0, 1000))
    assert ci_burst(w(1000, 4000, 0, 1001))
    # a share that was already high and stays: not a burst, however large
    assert not ci_burst(w(1000, 2000, 900, 1400))


def test_growth_that_disappears_without_ci() -> None:
    # without CI: 1000 -> 1000; every added download is CI
    assert ci_burst(w(1000, 3000, 0, 2000))


def test_rank_trending_order_and_cut() -> None:
    found = rank_trending(
        [
            w(1000, 4000, package="b"),
            w(1000, 4000, package="a"),
            w(2000, 8000, package="c"),
            w(1000, 1500, package="d"),
        ],
        size=3,
    )
    assert [(e["package"], e["growth"], e["rank"]) for e in found] == [
        ("c", 3.0, 1),
        ("a", 3.0, 2),
        ("b", 3.0, 3),
    ]


def test_rank_top_by_downloads_and_share() -> None:
    counts = [
        ("big", "installer", "pip", 900), ("big", "installer", "uv", 100),
        ("small", "installer", "uv", 80), ("small", "installer", "pip", 20),
        ("small", "ci", "true", 0),
    ]  # fmt: skip
    lists = rank_top(counts, categories=1)
    assert set(lists) == {("installer", "pip", "downloads"), ("installer", "pip", "share")}
    lists = rank_top(counts)
    assert [(e["package"], e["downloads"], e["total"]) for e in lists[("installer", "uv", "downloads")]] == [
        ("big", 100, 1000),
        ("small", 80, 100),
    ]
    assert [(e["package"], e["share"]) for e in lists[("installer", "uv", "share")]] == [
        ("small", 0.8),
        ("big", 0.1),
    ]
    assert ("ci", "true", "downloads") not in lists
