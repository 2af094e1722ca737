"""The Helm chart: ``helm lint``, ``helm template | kubernetes-validate``, and what the rendered
manifests must contain (probes, resources, HPA, PDBs, hook job, ingress routing, secrets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.frontdoor import ROUTES, Route, route_for
from tests.integration.deploy.helm_tool import ROOT
from tests.support.frontdoor import CASES

CHART = ROOT / "deploy" / "helm" / "pypistats"
KUBE_VERSION = "1.29.0"
SERVICES = ("api", "web", "auth", "aggregator", "ingest")


def render(helm: Path, *sets: str) -> list[dict[str, Any]]:
    args = [str(helm), "template", "rel", str(CHART), "--kube-version", KUBE_VERSION]
    for value in sets:
        args += ["--set", value]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"].removeprefix("rel-pypistats-"): d for d in docs if d["kind"] == kind}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("values", [[], ["ingest.mode=cronjob", "secrets.existingSecret=ext"]])
def test_helm_lint_passes(helm: Path, values: list[str]) -> None:
    args = [str(helm), "lint", "--strict", str(CHART)]
    for value in values:
        args += ["--set", value]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "values", [[], ["ingest.mode=cronjob", "secrets.existingSecret=ext", "ingress.enabled=false"]]
)
def test_rendered_manifests_pass_kubernetes_validate(helm: Path, values: list[str], tmp_path: Path) -> None:
    args = [str(helm), "template", "rel", str(CHART), "--kube-version", KUBE_VERSION]
    for value in values:
        args += ["--set", value]
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    validator = Path(sys.executable).with_name("kubernetes-validate")
    result = subprocess.run(
        [str(validator), "--strict", "--quiet", "-k", KUBE_VERSION, str(rendered)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_has_probes_resources_and_a_config_check(helm: Path) -> None:
    deployments = by_kind(render(helm), "Deployment")
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", f"services.{name}", "serve"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["securityContext"]["runAsNonRoot"] is True
        (check,) = pod["initContainers"]
        assert check["command"] == ["python", "-m", "shared.config", "check", "--service", name]
        env = env_of(container)
        for key in ("DATABASE_URL", "REDIS_URL", "NATS_URL"):
            assert env[key]["secretKeyRef"]["name"] == "rel-pypistats-secrets"


def test_hpa_for_api_and_web_and_pdbs(helm: Path) -> None:
    docs = render(helm)
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    assert set(hpas) == {"api", "web"}
    assert all(h["spec"]["scaleTargetRef"]["name"] == f"rel-pypistats-{n}" for n, h in hpas.items())
    deployments = by_kind(docs, "Deployment")
    assert "replicas" not in deployments["api"]["spec"]  # the HPA owns the replica count
    assert set(by_kind(docs, "PodDisruptionBudget")) == {"api", "web", "auth", "aggregator"}


def test_aggregator_replicas_share_one_durable_consumer(helm: Path) -> None:
    aggregator = by_kind(render(helm, "aggregator.replicas=4"), "Deployment")["aggregator"]
    assert aggregator["spec"]["replicas"] == 4
    assert env_of(aggregator["spec"]["template"]["spec"]["containers"][0])["CONSUMER_NAME"] == "aggregator"


def test_ingest_scheduler_is_a_single_replica_or_a_cronjob(helm: Path) -> None:
    ingest = by_kind(render(helm), "Deployment")["ingest"]
    assert ingest["spec"]["replicas"] == 1 and ingest["spec"]["strategy"]["type"] == "Recreate"
    docs = render(helm, "ingest.mode=cronjob")
    assert "ingest" not in by_kind(docs, "Deployment")
    cron = by_kind(docs, "CronJob")["ingest"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid" and cron["spec"]["schedule"] == "0 1 * * *"
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:4] == ["python", "-m", "services.ingest", "pass"]  # one scheduler pass


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("ingest.mode=daemon", "ingest.mode"),
        ("aggregator.replicas=0", "aggregator.replicas"),
        ("config.env=staging", "config.env"),
        ("api.port=70000", "api.port"),
        ("auth.publicUrl=pypistats.example.org", "auth.publicUrl"),
    ],
)
def test_bad_values_are_refused_by_the_values_schema(helm: Path, value: str, complaint: str) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        render(helm, value)
    assert complaint in failed.value.stderr


def test_migrate_job_is_a_pre_install_and_pre_upgrade_hook(helm: Path) -> None:
    docs = render(helm)
    job = by_kind(docs, "Job")["migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "shared.db.migrate"]
    # the hook runs before the release's Secret exists, so it reads a hook Secret created before it
    ref = env_of(container)["DATABASE_URL"]["secretKeyRef"]["name"]
    hook_secret = by_kind(docs, "Secret")[ref.removeprefix("rel-pypistats-")]
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )


def test_ingress_routes_every_path_like_every_front_door(helm: Path) -> None:
    """The rendered Ingress is shared.frontdoor's table, and matched by the Kubernetes rules
    (longest path first, Exact over Prefix) it sends every path where every front door must:
    /api to web's documentation page, /api/... to the api, /metrics nowhere."""
    ingress = by_kind(render(helm, "ingress.host=stats.example.org"), "Ingress")["rel-pypistats"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "stats.example.org"
    rendered = [
        Route(p["path"], p["backend"]["service"]["name"].removeprefix("rel-pypistats-"), p["pathType"] == "Exact")
        for p in rule["http"]["paths"]
    ]
    assert {p["pathType"] for p in rule["http"]["paths"]} <= {"Exact", "Prefix"}
    assert all(p["backend"]["service"]["port"] == {"name": "http"} for p in rule["http"]["paths"])
    assert sorted(rendered, key=lambda r: r.precedence) == sorted(ROUTES, key=lambda r: r.precedence)
    assert {path: route_for(path, rendered) for path in CASES} == CASES
    assert "defaultBackend" not in ingress["spec"]  # unmatched paths get the controller's 404


def test_urls_live_in_a_secret_never_in_the_configmap(helm: Path) -> None:
    docs = render(helm, "secrets.databaseUrl=postgresql://u:hunter2@db/x", "secrets.sessionSecret=s")
    config = by_kind(docs, "ConfigMap")["config"]
    assert "hunter2" not in yaml.safe_dump(config)
    assert by_kind(docs, "Secret")["secrets"]["stringData"]["DATABASE_URL"] == "postgresql://u:hunter2@db/x"


def test_an_existing_secret_is_referenced_and_none_is_created(helm: Path) -> None:
    docs = render(helm, "secrets.existingSecret=prod-urls", "secrets.readOnlyKey=DATABASE_URL")
    assert by_kind(docs, "Secret") == {}
    api = by_kind(docs, "Deployment")["api"]["spec"]["template"]["spec"]["containers"][0]
    assert env_of(api)["DATABASE_URL"]["secretKeyRef"] == {"name": "prod-urls", "key": "DATABASE_URL"}
    migrate = by_kind(docs, "Job")["migrate"]["spec"]["template"]["spec"]["containers"][0]
    assert env_of(migrate)["DATABASE_URL"]["secretKeyRef"]["name"] == "prod-urls"


def test_api_and_web_read_through_the_read_only_role(helm: Path) -> None:
    docs = render(helm, "secrets.databaseUrlReadonly=postgresql://reader@db/x")
    deployments = by_kind(docs, "Deployment")
    for name, key in [
        ("api", "DATABASE_URL_READONLY"),
        ("web", "DATABASE_URL_READONLY"),
        ("aggregator", "DATABASE_URL"),
    ]:
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert env_of(container)["DATABASE_URL"]["secretKeyRef"]["key"] == key
    assert (
        by_kind(docs, "Secret")["secrets"]["stringData"]["DATABASE_URL_READONLY"]
        == "postgresql://reader@db/x"
    )


def test_api_and_web_can_read_from_a_replica(helm: Path) -> None:
    plain = render(helm)
    assert "READ_DATABASE_URL" not in by_kind(plain, "Secret")["secrets"]["stringData"]
    docs = render(helm, "secrets.readDatabaseUrl=postgresql://reader@db-ro/x")
    assert (
        by_kind(docs, "Secret")["secrets"]["stringData"]["READ_DATABASE_URL"] == "postgresql://reader@db-ro/x"
    )
    for deployments in (by_kind(plain, "Deployment"), by_kind(docs, "Deployment")):
        for name in ("api", "web"):
            pod = deployments[name]["spec"]["template"]["spec"]
            for container in (pod["containers"][0], pod["initContainers"][0]):
                ref = env_of(container)["READ_DATABASE_URL"]["secretKeyRef"]
                assert ref == {"name": "rel-pypistats-secrets", "key": "READ_DATABASE_URL", "optional": True}
        for name in ("aggregator", "auth"):
            container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
            assert "READ_DATABASE_URL" not in env_of(container)
    custom = render(helm, "secrets.existingSecret=ext", "secrets.readReplicaKey=REPLICA_URL")
    api = by_kind(custom, "Deployment")["api"]["spec"]["template"]["spec"]["containers"][0]
    assert env_of(api)["READ_DATABASE_URL"]["secretKeyRef"]["key"] == "REPLICA_URL"


def test_kubernetes_prometheus_config_matches_the_pod_annotations(helm: Path) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "kubernetes.yml").read_text())
    (job,) = config["scrape_configs"]
    relabel = {tuple(r["source_labels"]): r for r in job["relabel_configs"]}
    for name, deployment in by_kind(render(helm), "Deployment").items():
        template = deployment["spec"]["template"]
        annotations, labels = template["metadata"]["annotations"], template["metadata"]["labels"]
        assert (
            annotations["prometheus.io/scrape"]
            == relabel[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)]["regex"]
        )
        assert (
            labels["app.kubernetes.io/name"]
            == relabel[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)]["regex"]
        )
        assert labels["app.kubernetes.io/component"] == name  # becomes the job label
        (port,) = template["spec"]["containers"][0]["ports"]
        assert annotations["prometheus.io/port"] == str(port["containerPort"])
        assert annotations["prometheus.io/path"] == "/metrics"


def test_exports_volume_is_mounted_in_the_aggregator_and_the_api_only(helm: Path, tmp_path: Path) -> None:
    assert "PersistentVolumeClaim" not in {d["kind"] for d in render(helm)}  # off by default
    docs = render(helm, "exports.enabled=true")
    (claim,) = by_kind(docs, "PersistentVolumeClaim").values()
    assert claim["metadata"]["name"] == "rel-pypistats-exports"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    deployments = by_kind(docs, "Deployment")
    for name in ("aggregator", "api", "web", "auth"):
        pod = deployments[name]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
        if name in ("aggregator", "api"):
            assert env_of(container)["EXPORT_DIR"] == "/var/lib/pypistats/exports"
            assert mounts["exports"]["mountPath"] == "/var/lib/pypistats/exports"
            assert mounts["exports"].get("readOnly", False) is (name == "api")
            assert claims == ["rel-pypistats-exports"]
        else:
            assert "EXPORT_DIR" not in env_of(container) and "exports" not in mounts and claims == []
    existing = render(helm, "exports.enabled=true", "exports.existingClaim=shared-nfs")
    assert "PersistentVolumeClaim" not in {d["kind"] for d in existing}
    pod = by_kind(existing, "Deployment")["api"]["spec"]["template"]["spec"]
    assert {"name": "exports", "persistentVolumeClaim": {"claimName": "shared-nfs"}} in pod["volumes"]
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(docs))
    validator = Path(sys.executable).with_name("kubernetes-validate")
    result = subprocess.run(
        [str(validator), "--strict", "--quiet", "-k", KUBE_VERSION, str(rendered)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
