"""When to ingest what: the scheduler's and the backfill's pure day planning, and cron arithmetic.

Owns the rules of contracts.md section 2 for choosing days: only closed UTC days; every pass
ingests the last closed day and re-ingests the ``resettle_days`` before it (BigQuery loads late
rows in batches); and it fills any day inside its gap window (``INGEST_GAP_DAYS``) that has no
complete ingest. A backfill covers a range newest first, leaving out the days already complete
and those before the retention window. The lock they share is :mod:`services.ingest.lock`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from croniter import croniter

UTC = dt.UTC


def last_closed_day(now: dt.datetime) -> dt.date:
    """The most recent UTC day that has fully ended at ``now``."""
    return now.astimezone(UTC).date() - dt.timedelta(days=1)


def plan_days(
    now: dt.datetime,
    *,
    gap_days: int,
    resettle_days: int,
    complete: Iterable[dt.date] | None,
) -> list[dt.date]:
    """Days to ingest in one pass, newest first: the last closed day, the ``resettle_days`` before
    it, and every day of the ``gap_days`` before it that is not complete.

    ``complete`` holds the days recorded in ``ingest_days``; ``None`` means it could not be read, in
    which case only the last closed day and the resettle days are planned (never the whole window).
    """
    last = last_closed_day(now)
    wanted = {last - dt.timedelta(days=k) for k in range(resettle_days + 1)}
    if complete is not None:
        done = set(complete)
        oldest = last - dt.timedelta(days=gap_days)
        day = oldest
        while day <= last:
            if day not in done:
                wanted.add(day)
            day += dt.timedelta(days=1)
    return sorted(wanted, reverse=True)


def next_fire(schedule: str, now: dt.datetime) -> dt.datetime:
    """The next time the cron ``schedule`` (UTC) fires strictly after ``now``."""
    if not croniter.is_valid(schedule):
        raise ValueError(f"invalid cron schedule {schedule!r}")
    fire: dt.datetime = croniter(schedule, now.astimezone(UTC)).get_next(dt.datetime)
    return fire


def day_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end`` inclusive (``ValueError`` when end is before start)."""
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


def check_range(start: dt.date, end: dt.date, last_closed: dt.date) -> list[dt.date]:
    """The days of a backfill's range, oldest first; ``ValueError`` for a reversed range or an
    ``end`` that is not closed yet."""
    if end > last_closed:
        raise ValueError(
            f"end {end.isoformat()} is not a closed UTC day yet (the last closed day is {last_closed.isoformat()})"
        )
    return day_range(start, end)


@dataclass(frozen=True)
class BackfillPlan:
    """The days a backfill ingests (newest first) and those it leaves out, with why."""

    days: list[dt.date]
    complete: int = 0
    before_retention: int = 0


def plan_backfill(
    start: dt.date,
    end: dt.date,
    *,
    last_closed: dt.date,
    complete: Iterable[dt.date] = (),
    retention_days: int | None = None,
) -> BackfillPlan:
    """Every day from ``start`` to ``end`` newest first, without the ``complete`` ones and those
    older than ``retention_days`` before ``last_closed`` (the aggregator would drop them at once).

    ``ValueError`` for a reversed range or an ``end`` that is not closed yet.
    """
    days = check_range(start, end, last_closed)
    kept = days
    if retention_days is not None:
        oldest = last_closed - dt.timedelta(days=retention_days)
        kept = [d for d in days if d >= oldest]
    done = set(complete)
    todo = [d for d in reversed(kept) if d not in done]
    return BackfillPlan(todo, complete=len(kept) - len(todo), before_retention=len(days) - len(kept))
