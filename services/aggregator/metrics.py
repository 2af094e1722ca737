"""Prometheus metrics of the aggregator, registered on the worker's own registry.

Owns the metric names ``pypistats_aggregator_*``: messages by kind, rows written, batch latency,
consumer lag (pending messages), dead letters by bounded reason, deferred recent rebuilds and the
last complete day.
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.aggregator.handlers import REASONS
from shared.metrics import metric_name

SERVICE = "aggregator"
#: Every value the ``kind`` label takes.
KINDS = ("package_day", "manifest", "stale", "expired", "dead_letter", "manifest_retry")
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class AggregatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            metric_name(SERVICE, "messages"),
            "Messages handled, by kind (package_day, manifest, stale, expired, dead_letter, manifest_retry).",
            ["kind"],
            registry=registry,
        )
        self.rows_written = Counter(
            metric_name(SERVICE, "rows_written"), "daily_downloads rows written.", registry=registry
        )
        self.batch_duration = Histogram(
            metric_name(SERVICE, "batch_duration_seconds"),
            "Time to handle one fetched batch, from fetch to ack.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.pending = Gauge(
            metric_name(SERVICE, "consumer_pending"),
            "Messages in the stream not yet delivered to the consumer (lag).",
            registry=registry,
        )
        self.dead_letters = Counter(
            metric_name(SERVICE, "dead_letters"),
            "Messages sent to the dead-letter subject, by reason.",
            ["reason"],
            registry=registry,
        )
        self.recent_deferred = Counter(
            metric_name(SERVICE, "recent_deferred"),
            "Completed days whose recent-totals rebuild was deferred to one later rebuild (a backlog).",
            registry=registry,
        )
        self.months_compacted = Counter(
            metric_name(SERVICE, "months_compacted"),
            "Month compactions run: open package-days folded into one row per package and month.",
            registry=registry,
        )
        self.compaction_seconds = Histogram(
            metric_name(SERVICE, "compaction_duration_seconds"),
            "Time to compact one month of every package.",
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
            registry=registry,
        )
        self.export_seconds = Histogram(
            metric_name(SERVICE, "export_duration_seconds"),
            "Time to write one complete day's bulk export files (Parquet and CSV, every package).",
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900),
            registry=registry,
        )
        self.export_failures = Counter(
            metric_name(SERVICE, "export_failures"),
            "Bulk export rounds that failed (retried after 10 s; the previous files stay served).",
            registry=registry,
        )
        self.last_complete_day = Gauge(
            metric_name(SERVICE, "last_complete_day_timestamp_seconds"),
            "Midnight UTC of the last complete day, as a Unix timestamp.",
            registry=registry,
        )
        for kind in KINDS:
            self.messages.labels(kind)
        for reason in REASONS:
            self.dead_letters.labels(reason)

    def set_last_complete_day(self, day: dt.date | None) -> None:
        if day is not None:
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            self.last_complete_day.set(midnight.timestamp())
