"""Settings of the ingest service (environment variables are the upper-cased field names)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from shared.config import DEFAULT_WINDOW_DAYS, ServiceSettings

SourceName = Literal["bigquery", "raw", "synthetic"]


class IngestSettings(ServiceSettings):
    """What to read, where to publish it, and when."""

    source: SourceName = Field(
        "synthetic", description="Where download counts come from: bigquery, raw (local export) or synthetic."
    )
    synthetic_packages: int = Field(
        5000, ge=1, le=2_000_000, description="Number of packages the synthetic source generates per day."
    )
    synthetic_seed: int = Field(0, description="Seed of the synthetic source (same seed and day, same data).")
    synthetic_first_day: dt.date = Field(
        dt.date(2020, 1, 1),
        description="The day the synthetic source's history begins (what `backfill --start first` starts from).",
    )
    raw_path: str = Field(
        "", description="File or folder of Parquet / JSON-lines file_downloads rows for the raw source."
    )
    bigquery_project: str = Field(
        "", description="Google Cloud project billed for BigQuery queries (empty: the environment's default)."
    )
    bigquery_max_bytes: int = Field(
        500_000_000_000,
        ge=0,
        description="Refuse a BigQuery run whose dry run says it would scan more bytes than this.",
    )
    bigquery_api_endpoint: str = Field(
        "",
        description="BigQuery REST endpoint override with anonymous credentials (a local stand-in); empty for Google.",
    )
    bigquery_page_rows: int = Field(50_000, ge=1, description="Result rows fetched per BigQuery page.")
    bigquery_usd_per_tib: float = Field(
        6.25,
        ge=0,
        description="BigQuery's on-demand price per TiB scanned, for the backfill's cost estimate (USD).",
    )
    backfill_max_usd: float = Field(
        100.0,
        ge=0,
        description="Refuse a backfill whose dry-run estimate costs more than this (USD); `--max-usd` raises it for one run.",
    )
    mirror_installers: str = Field(
        "bandersnatch,z3c.pypimirror,Artifactory,devpi",
        description="Comma-separated installer names counted only in with_mirrors.",
    )
    backfill_ahead_days: int = Field(
        7,
        ge=0,
        le=3660,
        description="Days a backfill publishes ahead of the aggregator at most, purging the events of days older than STREAM_RETENTION_DAYS once they are complete; 0 publishes without waiting and purges nothing.",
    )
    ingest_schedule: str = Field("0 1 * * *", description="Cron schedule (UTC) of the ingest scheduler.")
    ingest_resettle_days: int = Field(
        2, ge=0, le=30, description="Days before the last closed day re-ingested on every run, for late rows."
    )
    ingest_gap_days: int = Field(
        DEFAULT_WINDOW_DAYS,
        ge=0,
        le=36_600,
        description="Days before the last closed day each scheduler pass checks for missing days and fills (never more than RETENTION_DAYS when it is set); older history is `backfill`'s.",
    )
    ingest_backfill_yield_s: float = Field(
        1800.0,
        gt=0,
        description="How long a scheduler pass waits for a running backfill to finish its current day and hand over the ingest lock.",
    )
    ingest_run_on_start: bool = Field(
        True, description="serve: run one catch-up pass at start-up instead of waiting for the schedule."
    )
    ingest_lock_ttl_s: float = Field(
        300.0, gt=1, description="Lifetime of the scheduler's Redis lock; renewed while a pass runs."
    )
    publish_max_in_flight: int = Field(
        1024, ge=1, le=4000, description="Package-day publishes awaiting a JetStream ack at once."
    )
    ops_port: int = Field(
        9101, ge=0, le=65535, description="Port of the ops server (/metrics, /health, /ready)."
    )

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.source == "synthetic":
            problems.append("SOURCE=synthetic publishes invented downloads; production reads bigquery or raw")
        if self.source == "raw" and not self.raw_path:
            problems.append("SOURCE=raw needs RAW_PATH")
        if self.bigquery_api_endpoint:
            problems.append("BIGQUERY_API_ENDPOINT points the BigQuery client at a stand-in")
        return problems

    @property
    def gap_days(self) -> int:
        """The scheduler's gap-fill window: ``INGEST_GAP_DAYS``, within ``RETENTION_DAYS`` when set."""
        if self.retention_days is None:
            return self.ingest_gap_days
        return min(self.ingest_gap_days, self.retention_days)

    @property
    def mirrors(self) -> list[str]:
        return [m.strip() for m in self.mirror_installers.split(",") if m.strip()]
