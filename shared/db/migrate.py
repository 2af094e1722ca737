"""The migration runner: ``python -m shared.db.migrate``.

Owns schema changes. Migrations are the numbered ``NNNN_name.sql`` files beside this module,
applied in order, each in its own transaction, recorded in ``schema_migrations``. A session-level
advisory lock serialises concurrent runners, so a second runner waits and then applies nothing.
Services never migrate on start-up; this runs as its own step.

Some migrations also move data (shared.db.upgrade): after the SQL file of such a version, its
*data step* runs in batches of one transaction each, resumable after a crash, with a progress
bar; the next SQL file is applied only once the step reports done, so a later file may drop
what the step moved away from.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.db.upgrade import run_step
from shared.logging import configure_logging, get_logger

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: Arbitrary constant shared by every runner: pg_advisory_lock(key).
ADVISORY_LOCK_KEY = 7_346_120_501

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""

log = get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read the numbered migration files; refuses gaps and duplicate numbers."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name!r} is not named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"migration numbers must be 1..N without gaps, found {versions}")
    return found


async def migrate(
    dsn: str, directory: Path = MIGRATIONS_DIR, *, target: int | None = None, progress: bool = False
) -> list[int]:
    """Apply every pending migration up to ``target`` (all by default), running the data step of
    each version that has one; returns the versions applied (empty when up to date)."""
    migrations = [m for m in load_migrations(directory) if target is None or m.version <= target]
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    applied_now: list[int] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
        try:
            await conn.execute(CREATE_TABLE)
            rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
            done = {r["version"]: r["checksum"] for r in rows}
            for migration in migrations:
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        log.warning("migration changed after it was applied", version=migration.version)
                    await run_step(conn, migration.version, progress=progress)
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                log.info("migration applied", version=migration.version, name=migration.name)
                applied_now.append(migration.version)
                await run_step(conn, migration.version, progress=progress)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
    finally:
        await conn.close()
    return applied_now


def main(argv: list[str] | None = None) -> int:
    from shared.config import ServiceSettings

    parser = argparse.ArgumentParser(prog="python -m shared.db.migrate", description=__doc__)
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    parser.add_argument("--target", type=int, help="stop after this version (default: the newest)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar for data moves")
    args = parser.parse_args(argv)
    settings = ServiceSettings()
    configure_logging(settings.log_level, settings.json_logs)
    dsn = args.database_url or settings.database_url
    try:
        applied = asyncio.run(migrate(dsn, target=args.target, progress=not args.no_progress))
    except (OSError, asyncpg.PostgresError) as exc:
        log.error("migration failed", error=str(exc))
        return 1
    log.info("database is up to date", applied=applied)
    return 0


if __name__ == "__main__":
    sys.exit(main())
