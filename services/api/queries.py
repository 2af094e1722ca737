"""The api service's own SQL, beyond shared.rollups (which it shares with web).

Owns the one query that checks a package exists and reads the last complete day in a single
round trip, so an uncached answer costs two round trips (this, then the rows) instead of three.
``__all__`` exists once any day is complete, as in :func:`shared.rollups.package_exists`.
"""

from __future__ import annotations

REQUIRE = """
SELECT EXISTS (SELECT 1 FROM package_index WHERE package = $1), (SELECT max(day) FROM ingest_days)
"""
