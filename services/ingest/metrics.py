"""The ingest service's Prometheus metrics, registered on a registry its factory creates."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.metrics import metric_name

PUBLISH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


def _name(what: str) -> str:
    return metric_name("ingest", what)


class IngestMetrics:
    """Rows read, package-days published/skipped, latency, run duration, bytes scanned, last day, runs."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.rows_read = Counter(_name("rows_read"), "Package rows read from the source.", registry=r)
        self.published = Counter(
            _name("package_days_published"), "Package-day messages sent to JetStream.", registry=r
        )
        self.skipped = Counter(
            _name("package_days_skipped"),
            "Package-days that failed validation and were not published, by reason.",
            ["reason"],
            registry=r,
        )
        self.publish_latency = Histogram(
            _name("publish_latency_seconds"),
            "Time from sending a package-day to its JetStream acknowledgement.",
            buckets=PUBLISH_BUCKETS,
            registry=r,
        )
        self.run_duration = Histogram(
            _name("run_duration_seconds"),
            "Duration of one day's ingest run.",
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.bytes_scanned = Counter(
            _name("bytes_scanned"), "Bytes the source scanned (BigQuery dry-run estimate).", registry=r
        )
        self.last_success_day = Gauge(
            _name("last_success_day_timestamp_seconds"),
            "The most recent day ingested successfully, as unix seconds of its UTC midnight.",
            registry=r,
        )
        self.runs = Counter(_name("runs"), "Ingest runs by final status.", ["status"], registry=r)
