"""The synthetic catalogue: names back to ranks, and release histories that the source's versions
follow (what the fake PyPI serves as upload times), with a major version change in make run's window."""

from __future__ import annotations

import datetime as dt
import random

from services.ingest.sources.synthetic_details import Details
from shared.synthetic_catalog import index_of, package_name, release_day, releases, version_string
from shared.versions import Grouping


def test_names_map_back_to_their_rank() -> None:
    for index in [*range(0, 400), 4_900, 12_345, 99_999, 250_000]:
        assert index_of(package_name(index)) == index
    for other in ("not-a-synthetic-package", "py-", "zz", "babe-nope", "django"):
        assert index_of(other) is None


def test_the_newest_version_downloaded_is_the_newest_release_out() -> None:
    for day in (dt.date(2024, 3, 5), dt.date(2026, 11, 30)):
        details = Details(day, random.Random(1).random)
        for package in (0, 3, 17, 1234):
            downloaded = details.versions(package, 100_000)
            history = releases(package, day)
            out = {v for v, d in history}
            assert set(downloaded) <= out
            assert history[-1][0] in downloaded and history[-1][1] <= day
            assert [d for _, d in history] == sorted(d for _, d in history)


def test_requests_changes_major_version_in_the_demo_window() -> None:
    end = dt.date(2026, 12, 6)
    index = index_of("requests")
    assert index is not None
    window = [v for v, d in releases(index, end) if d > end - dt.timedelta(days=180)]
    majors = {Grouping("major").label(v) for v in window}
    assert len(majors) >= 2, window
    assert release_day(index, 0) <= dt.date(2020, 1, 31)
    assert version_string(index, 20).split(".")[0] == "2"
