"""The Grafana dashboard and the Prometheus alert rules: valid JSON/YAML with the structure Grafana
and Prometheus load, every metric they name is one the services export, and each thing the issue
asks to watch has a panel or a rule."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.metrics_catalog import HISTOGRAMS, series_base

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "pypistats.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DATASOURCE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
NAME = re.compile(r"\bpypistats_[a-z0-9_]+")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def balanced(expr: str) -> bool:
    depth = {"(": 0, "[": 0, "{": 0}
    closing = {")": "(", "]": "[", "}": "{"}
    for char in re.sub(r'"[^"]*"', "", expr):
        if char in depth:
            depth[char] += 1
        elif char in closing:
            depth[closing[char]] -= 1
            if depth[closing[char]] < 0:
                return False
    return not any(depth.values())


def test_dashboard_structure(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    uid = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] < 24 and 0 < grid["w"] <= 24 - grid["x"] and grid["h"] > 0
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["targets"] and panel["datasource"]["uid"] == uid
        for target in panel["targets"]:
            assert target["refId"] and balanced(target["expr"]), target["expr"]


def test_every_metric_the_dashboard_names_is_exported(dashboard: dict[str, Any]) -> None:
    named = {m for e in exprs(dashboard) for m in NAME.findall(e)}
    assert named
    assert sorted(m for m in named if series_base(m) is None) == []


def test_every_metric_the_alerts_name_is_exported(rules: list[dict[str, Any]]) -> None:
    named = {m for rule in rules for m in NAME.findall(rule["expr"])}
    assert named
    assert sorted(m for m in named if series_base(m) is None) == []


def test_histograms_are_read_through_their_series(
    dashboard: dict[str, Any], rules: list[dict[str, Any]]
) -> None:
    everything = exprs(dashboard) + [rule["expr"] for rule in rules]
    for name in (m for e in everything for m in NAME.findall(e)):
        assert name not in HISTOGRAMS, f"{name} is a histogram: use _bucket, _sum or _count"


@pytest.mark.parametrize(
    ("topic", "needles"),
    [
        ("ingest last success", ["pypistats_ingest_last_success_day_timestamp_seconds"]),
        ("ingest rows", ["pypistats_ingest_rows_read_total"]),
        ("aggregator throughput", ["pypistats_aggregator_rows_written_total", "pypistats_aggregator_messages_total"]),
        ("lag", ["pypistats_aggregator_consumer_pending"]),
        ("dead letters", ["pypistats_aggregator_dead_letters_total"]),
        ("api and web request rate", ["rate(pypistats_api_http_requests_total", "rate(pypistats_web_http_requests_total"]),
        ("p99", ["histogram_quantile(0.99, sum by (le) (rate(pypistats_api_http_request_duration_seconds_bucket",
                 "histogram_quantile(0.99, sum by (le) (rate(pypistats_web_http_request_duration_seconds_bucket"]),
        ("errors", ['pypistats_api_http_requests_total{status=~"5.."}', 'pypistats_web_http_requests_total{status=~"5.."}']),
        ("cache hit ratio", ['pypistats_api_cache_requests_total{result="hit"}', 'pypistats_web_cache_requests_total{result="hit"}']),
        ("rate limited", ["pypistats_api_rate_limited_total"]),
    ],
)  # fmt: skip
def test_dashboard_covers(dashboard: dict[str, Any], topic: str, needles: list[str]) -> None:
    text = "\n".join(exprs(dashboard))
    missing = [n for n in needles if n not in text]
    assert missing == [], f"no panel for {topic}"


def test_alert_rules_structure(rules: list[dict[str, Any]]) -> None:
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        assert balanced(rule["expr"]), rule["expr"]
        assert re.fullmatch(r"\d+[smhd]", rule.get("for", "0m"))


def test_the_required_alerts_exist(rules: list[dict[str, Any]]) -> None:
    by_metric = {m: rule for rule in rules for m in NAME.findall(rule["expr"])}
    stale = [
        r["expr"] for r in rules if "pypistats_aggregator_last_complete_day_timestamp_seconds" in r["expr"]
    ]
    assert any("36 * 3600" in e and "time()" in e for e in stale)
    assert "pypistats_aggregator_dead_letters_total" in by_metric
    assert "pypistats_aggregator_consumer_pending" in by_metric
    for service in ("api", "web", "auth"):
        assert '{status=~"5.."}' in by_metric[f"pypistats_{service}_http_requests_total"]["expr"]
