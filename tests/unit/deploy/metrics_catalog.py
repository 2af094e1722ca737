"""The metric names the services export (issue 8's list), which the dashboard and alerts may use."""

from __future__ import annotations

COUNTERS = {
    "pypistats_ingest_rows_read_total",
    "pypistats_ingest_package_days_published_total",
    "pypistats_ingest_package_days_skipped_total",
    "pypistats_ingest_bytes_scanned_total",
    "pypistats_ingest_runs_total",
    "pypistats_aggregator_messages_total",
    "pypistats_aggregator_rows_written_total",
    "pypistats_aggregator_dead_letters_total",
    "pypistats_aggregator_export_failures_total",
    "pypistats_api_http_requests_total",
    "pypistats_web_http_requests_total",
    "pypistats_auth_http_requests_total",
    "pypistats_api_cache_requests_total",
    "pypistats_api_rate_limited_total",
    "pypistats_web_cache_requests_total",
    "pypistats_auth_logins_total",
    "pypistats_api_replica_reads_total",
    "pypistats_api_replica_waits_total",
    "pypistats_web_replica_reads_total",
    "pypistats_web_replica_waits_total",
}
GAUGES = {
    "pypistats_ingest_last_success_day_timestamp_seconds",
    "pypistats_aggregator_consumer_pending",
    "pypistats_aggregator_last_complete_day_timestamp_seconds",
    "pypistats_api_replica_lag_bytes",
    "pypistats_web_replica_lag_bytes",
    "pypistats_api_database_up",
    "pypistats_web_database_up",
    "pypistats_auth_database_up",
    "pypistats_api_redis_up",
    "pypistats_web_redis_up",
    "pypistats_auth_redis_up",
}
HISTOGRAMS = {
    "pypistats_ingest_publish_latency_seconds",
    "pypistats_ingest_run_duration_seconds",
    "pypistats_aggregator_batch_duration_seconds",
    "pypistats_api_http_request_duration_seconds",
    "pypistats_web_http_request_duration_seconds",
    "pypistats_auth_http_request_duration_seconds",
    "pypistats_api_replica_wait_seconds",
    "pypistats_web_replica_wait_seconds",
}
BY_SERVICE = {
    service: {n for n in COUNTERS | GAUGES | HISTOGRAMS if n.startswith(f"pypistats_{service}_")}
    for service in ("ingest", "aggregator", "api", "web", "auth")
}


def series_base(name: str) -> str | None:
    """The catalogued metric a series name belongs to (``_bucket``/``_sum``/``_count`` of a
    histogram), or None when it is not one of ours."""
    if name in COUNTERS or name in GAUGES or name in HISTOGRAMS:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS:
            return name.removesuffix(suffix)
    return None
