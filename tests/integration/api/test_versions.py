"""``/version?group=major|minor&spec=...`` against real PostgreSQL and Redis (shared.versions)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.integration.api.conftest import END
from tests.integration.api.test_contract import assert_error, get_json
from tests.support.seed import write_rows

DAYS = 10
#: Versions as logged, each with its downloads on day i (0 = oldest) and its groups by the rule
#: of shared.versions (major, minor): pre- and dev-releases with their release, invalid under other.
VERSIONS: dict[str, tuple[Any, str, str]] = {
    "1.9.0": (lambda i: 50 - i, "1", "1.9"),
    "1.9.1": (lambda i: 7, "1", "1.9"),
    "2.0.0rc1": (lambda i: 3 if i < 4 else 0, "2", "2.0"),
    "2.0.0": (lambda i: 10 * i, "2", "2.0"),
    "2.1.0.dev2": (lambda i: 1, "2", "2.1"),
    "2.1.0": (lambda i: i * i, "2", "2.1"),
    "null": (lambda i: 2, "other", "other"),
    "latest build": (lambda i: 1 if i % 2 else 0, "other", "other"),
}


def day_of(i: int) -> dt.date:
    return END - dt.timedelta(days=DAYS - 1 - i)


@pytest.fixture
async def versioned(seeded: asyncpg.Pool) -> asyncpg.Pool:
    """The package ``semver``: the versions above over the last DAYS complete days."""
    rows = []
    for i in range(DAYS):
        total = sum(f(i) for f, _, _ in VERSIONS.values())
        rows += [(day_of(i), "semver", "overall", "without_mirrors", total)]
        rows += [(day_of(i), "semver", "version", v, f(i)) for v, (f, _, _) in VERSIONS.items() if f(i)]
    await write_rows(seeded, rows)
    await seeded.execute(
        "INSERT INTO package_index (package, first_day, last_day) VALUES ('semver', $1, $2)", day_of(0), END
    )
    return seeded


def expected(label_of: Any) -> list[dict[str, Any]]:
    """The answer's rows computed from VERSIONS: per group and day, the sum of its versions."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for version, (f, major, minor) in VERSIONS.items():
        for i in range(DAYS):
            sums[(label_of(version, major, minor), day_of(i).isoformat())] += f(i)
    return [{"category": c, "date": d, "downloads": n} for (c, d), n in sorted(sums.items()) if n]


async def data(api: TestClient, query: str) -> list[dict[str, Any]]:
    body = await get_json(api, f"/api/packages/semver/version?{query}")
    assert body["package"] == "semver" and body["type"] == "version_downloads"
    rows: list[dict[str, Any]] = body["data"]
    return rows


async def test_group_by_major_and_minor(api: TestClient, versioned: Any) -> None:
    assert await data(api, "group=major") == expected(lambda v, major, minor: major)
    assert await data(api, "group=Minor") == expected(lambda v, major, minor: minor)
    # Every day's groups sum to the day's downloads of every version.
    every = await data(api, "")
    for day in {r["date"] for r in every}:
        total = sum(r["downloads"] for r in every if r["date"] == day)
        assert sum(r["downloads"] for r in await data(api, "group=major") if r["date"] == day) == total


async def test_specs_prereleases_and_invalid_versions(api: TestClient, versioned: Any) -> None:
    def spec_rule(version: str, major: str, minor: str) -> str:
        # <2 takes the 1.x; 2.0.0rc1 and 2.1.0.dev2 are matched as 2.0.0 and 2.1.0 (>=2).
        return {"1": "<2", "2": ">=2"}.get(major, "other")

    assert await data(api, "spec=%3C2&spec=%3E%3D2") == expected(spec_rule)

    def first_then_minor(version: str, major: str, minor: str) -> str:
        return "<2" if major == "1" else minor

    assert await data(api, "spec=%3C2&group=minor") == expected(first_then_minor)

    def exact_prerelease(version: str, major: str, minor: str) -> str:
        # A specifier naming a pre-release compares versions as they are.
        return "==2.0.0rc1" if version == "2.0.0rc1" else "other"

    assert await data(api, "spec=%3D%3D2.0.0rc1") == expected(exact_prerelease)


async def test_group_with_limit_bin_and_filter(api: TestClient, versioned: Any) -> None:
    rows = await data(api, "group=minor&limit=1")
    assert {r["category"] for r in rows} == {"1.9", "other"}  # 1.9 has most downloads in the range
    weekly = await data(api, f"group=major&bin=week&start_date={day_of(0)}")
    assert sum(r["downloads"] for r in weekly) == sum(
        f(i) for f, _, _ in VERSIONS.values() for i in range(DAYS)
    )
    assert all("partial" in r for r in weekly)
    one = await data(api, "version=2.0.0rc1&group=major")
    assert one == [r for r in expected(lambda v, major, minor: major if v == "2.0.0rc1" else "-")
                   if r["category"] == "2"]  # fmt: skip


async def test_without_group_or_spec_the_answer_is_unchanged(api: TestClient, versioned: Any) -> None:
    plain = await api.get("/api/packages/semver/version")
    for query in ("group=", "spec=", "group=&spec="):
        same = await api.get(f"/api/packages/semver/version?{query}")
        assert await same.read() == await plain.read(), query
        assert same.headers["ETag"] == plain.headers["ETag"]
    grouped = await api.get("/api/packages/semver/version?group=major")
    assert grouped.headers["ETag"] != plain.headers["ETag"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("group=patch", "group"),
        ("group=major&spec=2.0", "spec"),
        ("spec=%3E%3D2&spec=%3D%3E3", "spec"),
        ("spec=" + "%3E" * 120, "spec"),
        ("group=minor&limit=0", "limit"),
    ],
)
async def test_bad_group_or_spec_is_400_naming_it(
    api: TestClient, redis: Any, namespace: str, query: str, parameter: str
) -> None:
    body = await get_json(api, f"/api/packages/requests/version?{query}", status=400)
    assert_error(body, 400, parameter)
    assert [k async for k in redis.scan_iter(match=f"{namespace}:api:*")] == []  # nothing cached
