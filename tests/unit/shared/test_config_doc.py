"""docs/configuration.md is generated from the settings classes and lists every variable the code reads."""

import re
from pathlib import Path

import yaml

from shared.config import OTHER_VARIABLES, configuration_table, registered_settings

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "configuration.md"
ENV_READ = re.compile(
    r"""(?:environ\.get|environ\.setdefault|getenv|environ)\s*[\(\[]\s*["']([A-Z][A-Z0-9_]*)["']"""
)


def documented() -> set[str]:
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", DOC.read_text(), flags=re.MULTILINE))


def test_every_service_registers_its_settings() -> None:
    assert set(registered_settings()) >= {"ingest", "aggregator", "api", "web", "auth"}


def test_configuration_doc_is_up_to_date() -> None:
    assert DOC.read_text() == configuration_table(), (
        "run: python -m shared.config docs > docs/configuration.md"
    )


def test_code_reads_no_undocumented_variable() -> None:
    names = documented()
    read: dict[str, str] = {}
    for path in [*ROOT.joinpath("shared").rglob("*.py"), *ROOT.joinpath("services").rglob("*.py")]:
        for name in ENV_READ.findall(path.read_text()):
            read.setdefault(name, str(path.relative_to(ROOT)))
    assert read, "the scan found no environment reads at all: the pattern is broken"
    missing = {name: where for name, where in read.items() if name not in names}
    assert not missing, f"read but not in docs/configuration.md: {missing}"


def test_deployments_set_only_documented_variables() -> None:
    names = documented() | {f"{n}_FILE" for n in documented()}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    ours = {"ingest", "aggregator", "api", "web", "auth", "migrate"}
    unknown: set[str] = set()
    for name, service in compose["services"].items():
        environment = service.get("environment") or {}
        keys = (
            environment.keys() if isinstance(environment, dict) else [e.split("=", 1)[0] for e in environment]
        )
        if any(name.startswith(o) for o in ours):
            unknown |= {k for k in keys if k not in names}
    assert not unknown, f"docker-compose.yml sets undocumented variables: {unknown}"
    other = set(OTHER_VARIABLES)
    assert other <= names
