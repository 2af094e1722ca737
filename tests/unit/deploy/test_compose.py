"""docker-compose.yml against the Compose Specification JSON schema, plus what the stack needs:
the migrate one-shot the services wait for, one image for the five services, the routing proxy,
Prometheus scraping every service and Grafana provisioned. Also the Dockerfile's basics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shared import frontdoor

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = Path(__file__).with_name("schemas") / "compose_spec.json"
SERVICES = ("aggregator", "ingest", "api", "web", "auth")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft201909Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def test_compose_file_is_valid_against_the_compose_spec(
    compose: dict[str, Any], validator: jsonschema.Draft201909Validator
) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c["services"]["api"].update(restart_policy="always"),  # not a Compose key
        lambda c: c["services"]["migrate"]["depends_on"]["postgres"].update(condition="when_ready"),
        lambda c: c["services"]["proxy"].update(ports=[{"target": "eighty"}]),
        lambda c: c.update(volumes=["postgres-data"]),
    ],
)
def test_the_schema_rejects_broken_files(
    compose: dict[str, Any], validator: jsonschema.Draft201909Validator, breakage: Any
) -> None:
    broken = json.loads(json.dumps(compose))
    breakage(broken)
    assert list(validator.iter_errors(broken))


def test_servers_are_postgres16_redis7_and_nats2_with_jetstream(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["nats"]["image"].startswith("nats:2")
    assert "-js" in services["nats"]["command"]


def test_the_five_services_share_one_image_and_wait_for_the_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "-m", "shared.db.migrate"] and migrate["restart"] == "no"
    images = {services[name]["image"] for name in (*SERVICES, "migrate")}
    assert len(images) == 1
    for name in SERVICES:
        service = services[name]
        assert service["command"][:3] == ["python", "-m", f"services.{name}"]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        env = service["environment"]
        assert {"DATABASE_URL", "REDIS_URL", "NATS_URL"} <= set(env)
        assert "/health" in " ".join(service["healthcheck"]["test"])


def test_proxy_serves_the_generated_caddyfile(compose: dict[str, Any]) -> None:
    """The routing itself is tested against the real Caddy (tests/integration/deploy/test_caddy.py)."""
    proxy = compose["services"]["proxy"]
    (mount,) = proxy["volumes"]
    source, target, mode = mount.split(":")
    assert Path(source) == Path(".") / frontdoor.CADDYFILE and target == "/etc/caddy/Caddyfile" and mode == "ro"
    assert proxy["ports"] == ["8000:8000"] and proxy["image"].startswith("caddy:2")


def test_prometheus_scrapes_every_service_and_grafana_is_provisioned(compose: dict[str, Any]) -> None:
    services = compose["services"]
    mounts = {
        v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"] if v.startswith("./")
    }
    config = yaml.safe_load((ROOT / mounts["/etc/prometheus/prometheus.yml"]).read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    ports = {"api": 8081, "web": 8080, "auth": 8082, "aggregator": 9102, "ingest": 9101}
    for name, port in ports.items():
        (sd,) = jobs[name]["dns_sd_configs"]
        assert sd["names"] == [name] and sd["port"] == port
        assert services[name]["environment"].get(
            "PORT", services[name]["environment"].get("OPS_PORT")
        ) == str(port)
    assert "/etc/prometheus/alerts.yml" in mounts and config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    grafana = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"] if v.startswith("./")}
    provisioning = ROOT / grafana["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "pypistats.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert (ROOT / grafana["/var/lib/grafana/dashboards"] / "pypistats.json").exists()


def test_dockerfile_is_one_slim_image_running_as_a_non_root_user() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert froms and all(image == "python:3.11-slim" for image in froms)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    cmd = next(line for line in reversed(lines) if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD "))[:2] == ["python", "-m"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".run"} <= set(ignored)


def test_api_and_web_read_the_primary_unless_a_replica_is_named(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("api", "web"):
        assert services[name]["environment"]["READ_DATABASE_URL"] == "${READ_DATABASE_URL:-}"
    for name in ("aggregator", "ingest", "auth", "migrate"):
        assert "READ_DATABASE_URL" not in services[name]["environment"]


def test_exports_are_a_volume_the_aggregator_writes_and_the_api_reads(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "exports" in compose["volumes"]
    for name, mount in (("aggregator", "exports:/exports"), ("api", "exports:/exports:ro")):
        assert services[name]["environment"]["EXPORT_DIR"] == "/exports"
        assert mount in services[name]["volumes"]
    # The mount point exists in the image, owned by the app user: a fresh named volume copies it.
    assert "install -d -o 10001 -g 10001 /exports" in (ROOT / "Dockerfile").read_text()
