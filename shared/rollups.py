"""Read-side queries over the rollup tables, shared by the api and web services.

Owns the SQL that reads what the aggregator writes: the last complete day, whether a package
exists, recent totals, top packages, search and status (time series: shared.series). Every
query is a parameterised constant; nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeAlias

import asyncpg

from shared.packages import ALL_PACKAGES

Conn: TypeAlias = "asyncpg.Pool | asyncpg.Connection"
PERIODS = ("day", "week", "month")

LAST_COMPLETE_DAY = "SELECT max(day) FROM ingest_days"
#: How far back the kept history reaches: the first and last complete days and how many are complete.
HISTORY_SPAN = "SELECT min(day) AS first_day, max(day) AS last_day, count(*) AS days FROM ingest_days"
PACKAGE_EXISTS = "SELECT EXISTS (SELECT 1 FROM package_index WHERE package = $1)"
ANY_DAY = "SELECT EXISTS (SELECT 1 FROM ingest_days)"
RECENT = "SELECT period, downloads FROM recent_downloads WHERE package = $1"
TOP = """
SELECT package, downloads FROM recent_downloads
WHERE period = $1 AND package <> '__all__' AND downloads > 0
ORDER BY downloads DESC, package
LIMIT $2
"""
COUNT_PACKAGES = "SELECT count(*) FROM package_index"
HAS_TRIGRAMS = "SELECT search_has_trigrams()"
SEARCH_PREFIX = """
SELECT package FROM package_index
WHERE package LIKE $1 || '%' ESCAPE '\\'
ORDER BY length(package), package
LIMIT $2
"""
SEARCH_TRIGRAM = """
SELECT package FROM package_index
WHERE (package % $1 OR package LIKE '%' || $2 || '%' ESCAPE '\\') AND package NOT LIKE $2 || '%' ESCAPE '\\'
ORDER BY similarity(package, $1) DESC, package
LIMIT $3
"""
SEARCH_SUBSTRING = """
SELECT package FROM package_index
WHERE package LIKE '_%' || $2 || '%' ESCAPE '\\' AND $1 <> ''
ORDER BY length(package), package
LIMIT $3
"""
LAST_RUN = "SELECT day, run_id, source, packages, rows, completed_at FROM ingest_days ORDER BY completed_at DESC LIMIT 1"
RECENT_MANY = "SELECT package, period, downloads FROM recent_downloads WHERE package = ANY($1::text[])"


async def last_complete_day(conn: Conn) -> dt.date | None:
    value: dt.date | None = await conn.fetchval(LAST_COMPLETE_DAY)
    return value


async def history_span(conn: Conn) -> tuple[dt.date | None, dt.date | None, int]:
    """``(first complete day, last complete day, complete days)`` of the kept history (a backfill
    fills it newest first, so the first day moves back while it runs)."""
    row = await conn.fetchrow(HISTORY_SPAN)
    return row["first_day"], row["last_day"], int(row["days"])


async def package_exists(conn: Conn, package: str) -> bool:
    """``package`` must already be normalised. ``__all__`` exists once any day is complete."""
    if package == ALL_PACKAGES:
        return bool(await conn.fetchval(ANY_DAY))
    return bool(await conn.fetchval(PACKAGE_EXISTS, package))


async def recent(conn: Conn, package: str) -> dict[str, int]:
    """``{"day": n, "week": n, "month": n}``; periods without a row are 0."""
    found = {r["period"]: int(r["downloads"]) for r in await conn.fetch(RECENT, package)}
    return {period: found.get(period, 0) for period in PERIODS}


async def recent_many(conn: Conn, packages: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {p: dict.fromkeys(PERIODS, 0) for p in packages}
    for r in await conn.fetch(RECENT_MANY, packages):
        out[r["package"]][r["period"]] = int(r["downloads"])
    return out


async def top(conn: Conn, period: str, limit: int) -> list[tuple[str, int]]:
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    return [(r["package"], int(r["downloads"])) for r in await conn.fetch(TOP, period, limit)]


async def count_packages(conn: Conn) -> int:
    return int(await conn.fetchval(COUNT_PACKAGES))


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so user input matches literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(conn: Conn, query: str, limit: int = 20) -> list[str]:
    """Prefix matches first (shortest first), then fuzzy matches; ``query`` is normalised already."""
    escaped = escape_like(query)
    found = [r["package"] for r in await conn.fetch(SEARCH_PREFIX, escaped, limit)]
    if len(found) < limit:
        rest = limit - len(found)
        fuzzy = SEARCH_TRIGRAM if await conn.fetchval(HAS_TRIGRAMS) else SEARCH_SUBSTRING
        more = await conn.fetch(fuzzy, query, escaped, rest)
        found.extend(r["package"] for r in more if r["package"] not in found)
    return found[:limit]


async def status(conn: Conn) -> dict[str, Any]:
    """Last complete day, number of packages and the last ingest run that completed."""
    last = await conn.fetchrow(LAST_RUN)
    return {
        "last_complete_day": await last_complete_day(conn),
        "packages": await count_packages(conn),
        "last_run": dict(last) if last is not None else None,
    }


TRACKED_PACKAGES = "SELECT package FROM user_packages WHERE user_id = $1 ORDER BY package"


async def tracked_packages(conn: Conn, user_id: int) -> list[str]:
    """The packages a user tracks, by name."""
    return [r["package"] for r in await conn.fetch(TRACKED_PACKAGES, user_id)]
