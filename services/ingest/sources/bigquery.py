"""The BigQuery source: ``bigquery-public-data.pypi.file_downloads`` through google-cloud-bigquery.

Owns the cost guard and the paging: a dry run first reports the bytes the query would scan, and
the run refuses when that is above ``max_bytes``; then the query runs with ``@day`` bound as a
DATE parameter (the text is ``query.sql``, never formatted) and its result is read page by page,
each page fetched in a worker thread so the event loop keeps serving. Also the two questions a
backfill asks before it starts: a day's dry-run bytes (:meth:`BigQuerySource.estimate_bytes`) and
the first day of history (:meth:`BigQuerySource.first_day`, ``first_day.sql`` on the dataset's
``INFORMATION_SCHEMA.PARTITIONS``: metadata, not a scan). Credentials come from the
standard Google environment; ``api_endpoint`` plus anonymous credentials point the real client
library at a local stand-in (``services.ingest.fake_bigquery``) in tests and demos.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from shared.installers import PEOPLE_INSTALLERS
from shared.logging import get_logger

from .base import RawCounts, SourceError
from .rows import (
    DEFAULT_MIRRORS,
    FIRST_DAY_TABLE,
    Row,
    first_day_text,
    group_row_batches,
    partition_day,
    query_text,
)

log = get_logger(__name__)

PAGE_ROWS = 50_000


class CostGuardError(SourceError):
    """The dry run says the query would scan more than the configured cap."""


def make_client(project: str | None, api_endpoint: str | None = None) -> bigquery.Client:
    """A client from the standard Google environment, or anonymous against ``api_endpoint``."""
    if api_endpoint:
        return bigquery.Client(
            project=project or "local",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=api_endpoint),
        )
    return bigquery.Client(project=project or None)


class BigQuerySource:
    """Runs ``query.sql`` on BigQuery for one day, refusing scans above ``max_bytes``."""

    name = "bigquery"

    def __init__(
        self,
        client: bigquery.Client,
        *,
        max_bytes: int,
        mirrors: Sequence[str] = DEFAULT_MIRRORS,
        page_rows: int = PAGE_ROWS,
        on_bytes: Callable[[int], object] | None = None,
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.mirrors = list(mirrors)
        self.page_rows = page_rows
        self.on_bytes = on_bytes
        self.sql = query_text()
        self.last_bytes: int | None = None

    def _config(self, day: dt.date, *, dry_run: bool) -> bigquery.QueryJobConfig:
        return bigquery.QueryJobConfig(
            dry_run=dry_run,
            use_query_cache=not dry_run,
            use_legacy_sql=False,
            query_parameters=[
                bigquery.ScalarQueryParameter("day", "DATE", day),
                bigquery.ArrayQueryParameter("mirrors", "STRING", self.mirrors),
                bigquery.ArrayQueryParameter("people", "STRING", list(PEOPLE_INSTALLERS)),
            ],
        )

    def estimate_bytes(self, day: dt.date) -> int:
        """Bytes the query would scan for ``day``, from a dry run (free; no cap applied)."""
        job = self.client.query(self.sql, job_config=self._config(day, dry_run=True))
        return int(job.total_bytes_processed or 0)

    def dry_run(self, day: dt.date) -> int:
        """Bytes the query would scan for ``day`` (raises :class:`CostGuardError` above the cap)."""
        scanned = self.estimate_bytes(day)
        self.last_bytes = scanned
        log.info("bigquery dry run", day=day.isoformat(), bytes=scanned, max_bytes=self.max_bytes)
        if scanned > self.max_bytes:
            raise CostGuardError(
                f"the query for {day.isoformat()} would scan {scanned} bytes, above BIGQUERY_MAX_BYTES={self.max_bytes}"
            )
        return scanned

    def first_day(self) -> dt.date:
        """The first day of ``file_downloads``: its oldest partition with rows."""
        config = bigquery.QueryJobConfig(
            use_legacy_sql=False,
            query_parameters=[bigquery.ScalarQueryParameter("table", "STRING", FIRST_DAY_TABLE)],
        )
        rows = list(self.client.query(first_day_text(), job_config=config).result())
        day = partition_day(rows[0][0] if rows else None)
        log.info("bigquery first day", first_day=day.isoformat())
        return day

    def _pages(self, day: dt.date) -> Iterator[list[Row]]:
        job = self.client.query(self.sql, job_config=self._config(day, dry_run=False))
        result = job.result(page_size=self.page_rows)
        for page in result.pages:
            yield [(r[0], r[1], r[2], r[3]) for r in page]

    async def _batches(self, day: dt.date) -> AsyncIterator[list[Row]]:
        scanned = await asyncio.to_thread(self.dry_run, day)
        if self.on_bytes is not None:
            self.on_bytes(scanned)
        pages = await asyncio.to_thread(self._pages, day)
        done = object()
        while True:
            page: Any = await asyncio.to_thread(next, pages, done)
            if page is done:
                return
            yield page

    async def iter_day(self, day: dt.date) -> AsyncIterator[tuple[str, RawCounts]]:
        async for item in group_row_batches(self._batches(day)):
            yield item
