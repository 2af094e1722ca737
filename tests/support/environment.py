"""What tests need from the machine, and the one rule for when it is missing.

Under ``CI=true`` a test whose requirement (a browser, a binary, a Docker engine) is missing fails,
naming what is missing, so a green CI run means every test ran. Elsewhere the test is skipped with
that reason, and the end-of-run summary (tests/conftest.py) lists it. Skips that are not about
the machine (a parameter that does not apply) stay plain ``pytest.skip``.

Debian packages the tests need are listed once, in ``.ci/debian-packages``, which ``.ci/prepare``
installs from; the messages here point at that list.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_PACKAGES = ROOT / ".ci" / "debian-packages"
#: The prefix of every such skip reason, so the summary can tell them from other skips.
MISSING = "missing from this machine:"


def in_ci() -> bool:
    """True when the ``CI`` variable says so (``true``, ``1`` or ``yes``, any case)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(what: str, hint: str = "") -> NoReturn:
    """Fail the test under CI, skip it elsewhere; either way the message names ``what``."""
    reason = f"{MISSING} {what}" + (f" ({hint})" if hint else "")
    if in_ci():
        pytest.fail(f"CI=true and a test requirement is {reason}", pytrace=False)
    pytest.skip(reason)


def debian_package(command: str) -> str | None:
    """The package of ``command`` in .ci/debian-packages, or None when it is not listed there."""
    for line in DEBIAN_PACKAGES.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[1] == command:
            return fields[0]
    return None


def require_executable(command: str, path: str | None = None, *, override: str | None = None) -> str:
    """The path of an executable the test needs: ``$override`` when that variable is set, else
    ``path``, else ``command`` looked up on PATH. Missing means :func:`missing`."""
    chosen = (os.environ.get(override) if override else None) or path
    found = chosen if chosen is not None else shutil.which(command)
    if found is not None and os.path.isfile(found) and os.access(found, os.X_OK):
        return found
    where = f"{chosen} is not an executable file" if chosen is not None else "not found on PATH"
    hints = []
    package = debian_package(command)
    if package is not None:
        hints.append(f"Debian package {package}; .ci/run installs it when run as root")
    if override:
        hints.append(f"{override} sets its path")
    missing(f"{command}: {where}", "; ".join(hints))
