"""Settings of the aggregator worker (env var = upper-cased field name).

Owns the knobs of the durable JetStream consumer (name, batch size, fetch timeout, ack wait,
redelivery delays) and of the ops server. Built in ``main()``, never at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.config import ServiceSettings
from shared.exports import EXPORT_DIR_DESCRIPTION


class AggregatorSettings(ServiceSettings):
    """Aggregator configuration on top of the common service settings."""

    ops_port: int = Field(
        9102, ge=0, le=65535, description="Port of the aggregator's /health /ready /metrics server."
    )
    consumer_name: str = Field(
        "aggregator",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Durable JetStream consumer name (prefixed with the namespace); replicas share it.",
    )
    batch_size: int = Field(
        1000, ge=1, le=10_000, description="Messages fetched and written per database transaction."
    )
    fetch_timeout: float = Field(
        1.0, gt=0, le=60, description="Seconds one fetch waits for messages before polling again."
    )
    ack_wait: float = Field(
        120.0, ge=5, le=3600, description="Seconds JetStream waits for an ack before redelivering a message."
    )
    max_ack_pending: int = Field(
        20_000, ge=1, description="Unacknowledged messages JetStream hands out across all replicas."
    )
    manifest_retry_delay: float = Field(
        2.0, gt=0, le=600, description="Seconds before an incomplete day manifest is redelivered."
    )
    manifest_max_attempts: int = Field(
        1800,
        ge=1,
        description="Deliveries of a manifest whose run stays incomplete before it is dead-lettered (incomplete_run).",
    )
    error_retry_delay: float = Field(
        1.0, gt=0, le=600, description="Seconds before a batch that failed on the database is redelivered."
    )
    write_concurrency: int = Field(
        2,
        ge=1,
        le=16,
        description="Batch transactions one aggregator runs at once (fetching continues meanwhile).",
    )
    db_pool_size: int = Field(4, ge=2, le=64, description="PostgreSQL connections held by one aggregator.")
    partitions_ahead: int = Field(
        3,
        ge=0,
        le=60,
        description="Days after the last complete day whose year partition (compacted months) is created ahead of the data.",
    )
    compact_batch_packages: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Packages per compaction transaction (a closed month folded into one row per package and month).",
    )
    recent_max_delay: float = Field(
        30.0,
        ge=0,
        le=3600,
        description=(
            "Seconds the recent-totals rebuild may be deferred while more manifests are waiting (a backfill); "
            "0 rebuilds on every completed day."
        ),
    )
    export_dir: Path | None = Field(
        None,
        description=EXPORT_DIR_DESCRIPTION,
    )
    export_catch_up_days: int = Field(
        7,
        ge=1,
        le=36_600,
        description=(
            "The aggregator exports on its own every day completed within this many days whose files are missing "
            "or stale (after a crash or a re-ingest); older days: `python -m services.aggregator export`."
        ),
    )
