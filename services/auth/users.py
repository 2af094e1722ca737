"""The auth service's SQL: users and the packages they track.

Owns every statement on ``users`` and ``user_packages`` (parameterised constants). Adding a
package locks the user's row first, so two concurrent adds can never take a user past the limit,
and adding a package already tracked changes nothing.
"""

from __future__ import annotations

import enum

import asyncpg

from services.auth.github import GitHubUser

UPSERT_USER = """
INSERT INTO users (github_id, login, name, avatar_url, last_login_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (github_id) DO UPDATE
SET login = EXCLUDED.login, name = EXCLUDED.name, avatar_url = EXCLUDED.avatar_url, last_login_at = now()
RETURNING id
"""

USER_PACKAGES = """
SELECT coalesce(array_agg(p.package ORDER BY p.package) FILTER (WHERE p.package IS NOT NULL), '{}') AS packages
FROM users u LEFT JOIN user_packages p ON p.user_id = u.id
WHERE u.id = $1
GROUP BY u.id
"""
LOCK_USER = "SELECT id FROM users WHERE id = $1 FOR UPDATE"
LIST_PACKAGES = "SELECT package FROM user_packages WHERE user_id = $1 ORDER BY package"
IS_TRACKED = "SELECT EXISTS (SELECT 1 FROM user_packages WHERE user_id = $1 AND package = $2)"
COUNT_PACKAGES = "SELECT count(*) FROM user_packages WHERE user_id = $1"
INSERT_PACKAGE = "INSERT INTO user_packages (user_id, package) VALUES ($1, $2) ON CONFLICT DO NOTHING"
DELETE_PACKAGE = "DELETE FROM user_packages WHERE user_id = $1 AND package = $2"


class AddResult(enum.Enum):
    ADDED = "added"
    ALREADY_TRACKED = "already_tracked"
    LIMIT_REACHED = "limit_reached"
    NO_USER = "no_user"


async def upsert_user(pool: asyncpg.Pool, user: GitHubUser) -> int:
    """Create or refresh the user keyed on GitHub's id; returns our user id."""
    return int(await pool.fetchval(UPSERT_USER, user.id, user.login, user.name, user.avatar_url))


async def packages_of(pool: asyncpg.Pool, user_id: int) -> list[str] | None:
    """The user's tracked packages in one round trip; None when the user no longer exists."""
    row = await pool.fetchrow(USER_PACKAGES, user_id)
    return None if row is None else list(row["packages"])


async def list_packages(pool: asyncpg.Pool | asyncpg.Connection, user_id: int) -> list[str]:
    return [r["package"] for r in await pool.fetch(LIST_PACKAGES, user_id)]


async def add_package(pool: asyncpg.Pool, user_id: int, package: str, limit: int) -> AddResult:
    """Track ``package`` (normalised, known to exist) unless the user is at ``limit``."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(LOCK_USER, user_id) is None:
            return AddResult.NO_USER
        if await conn.fetchval(IS_TRACKED, user_id, package):
            return AddResult.ALREADY_TRACKED
        if await conn.fetchval(COUNT_PACKAGES, user_id) >= limit:
            return AddResult.LIMIT_REACHED
        await conn.execute(INSERT_PACKAGE, user_id, package)
        return AddResult.ADDED


async def remove_package(pool: asyncpg.Pool, user_id: int, package: str) -> bool:
    """Stop tracking ``package``; False when it was not tracked (nothing changes)."""
    status = await pool.execute(DELETE_PACKAGE, user_id, package)
    return bool(status.endswith(" 1"))
