"""The api service's own SQL, beyond shared.rollups (which it shares with web).

Owns the query that checks a package exists and reads the last complete day in a single round
trip, so an uncached answer costs two round trips (this, then the rows) instead of three, its
variant for the time series that also reads the first complete day (the kept history's span as
:func:`shared.rollups.history_span` defines it; both are lookups of ``ingest_days``' primary key),
and :data:`RECENT`, which reads ``/recent``'s whole answer with the same check in one round trip
(three primary-key lookups of ``recent_downloads``; a period without a row is NULL, answered 0).
``__all__`` exists once any day is complete, as in :func:`shared.rollups.package_exists`.
"""

from __future__ import annotations

REQUIRE = """
SELECT EXISTS (SELECT 1 FROM package_index WHERE package = $1), (SELECT max(day) FROM ingest_days)
"""
REQUIRE_SPAN = """
SELECT EXISTS (SELECT 1 FROM package_index WHERE package = $1),
    (SELECT max(day) FROM ingest_days), (SELECT min(day) FROM ingest_days)
"""
RECENT = """
SELECT EXISTS (SELECT 1 FROM package_index WHERE package = $1), (SELECT max(day) FROM ingest_days),
    (SELECT downloads FROM recent_downloads WHERE package = $1 AND period = 'day'),
    (SELECT downloads FROM recent_downloads WHERE package = $1 AND period = 'week'),
    (SELECT downloads FROM recent_downloads WHERE package = $1 AND period = 'month')
"""
