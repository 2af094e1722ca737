""".ci/prepare and .ci/run: what they install, when, with which apt-get options, and what runs after.

The scripts run for real under bash, with a PATH holding only stand-ins for what they call
(``id``, ``apt-get``, ``make`` and the commands of .ci/debian-packages), each of which records its
arguments in one log, so the order of the calls is checked too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BASH = shutil.which("bash") or "/bin/bash"
APT = "-q -o DPkg::Lock::Timeout=600"


def listed() -> list[tuple[str, str]]:
    """(package, command) pairs of .ci/debian-packages."""
    pairs = []
    for line in (ROOT / ".ci" / "debian-packages").read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            pairs.append((fields[0], fields[1]))
    return pairs


def stand_in(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!{BASH}\n{body}\n")
    path.chmod(0o755)


def run(
    tmp_path: Path, script: str, *, uid: int, present: set[str]
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``.ci/<script>`` as user ``uid`` with only the commands in ``present`` installed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    log.touch()
    stand_in(bin_dir, "id", f'[[ "$1" == -u ]] && echo {uid}')
    stand_in(bin_dir, "apt-get", f'echo "apt-get $DEBIAN_FRONTEND $*" >> {log}')
    stand_in(bin_dir, "make", f'echo "make CI=$CI $*" >> {log}')
    for tool in ("bash", "dirname"):  # .ci/run starts .ci/prepare through `env bash`
        os.symlink(shutil.which(tool) or f"/usr/bin/{tool}", bin_dir / tool)
    for command in present:
        stand_in(bin_dir, command, "true")
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = subprocess.run(
        [BASH, str(ROOT / ".ci" / script)], env=env, capture_output=True, text=True, timeout=30
    )
    return result, log.read_text().splitlines()


def test_the_list_names_chromium_and_wrk() -> None:
    assert ("chromium", "chromium") in listed() and ("wrk", "wrk") in listed()


def test_as_root_installs_only_what_is_missing(tmp_path: Path) -> None:
    result, calls = run(tmp_path, "prepare", uid=0, present={"chromium", "node", "npm"})
    assert result.returncode == 0, result.stderr
    assert calls == [
        f"apt-get noninteractive {APT} update",
        f"apt-get noninteractive {APT} install -y --no-install-recommends wrk",
    ]


def test_nothing_is_installed_when_everything_is_there(tmp_path: Path) -> None:
    result, calls = run(tmp_path, "prepare", uid=0, present={command for _, command in listed()})
    assert result.returncode == 0, result.stderr
    assert calls == []
    assert "every Debian package the tests need is present" in result.stdout


def test_without_root_it_names_what_is_missing_and_goes_on(tmp_path: Path) -> None:
    result, calls = run(tmp_path, "prepare", uid=1000, present=set())
    assert result.returncode == 0, result.stderr
    assert calls == []
    packages = " ".join(package for package, _ in listed())
    assert f"missing {packages}; cannot install them here (needs root and apt-get)" in result.stderr


def test_run_prepares_then_runs_make_test_under_ci(tmp_path: Path) -> None:
    result, calls = run(tmp_path, "run", uid=0, present=set())
    assert result.returncode == 0, result.stderr
    packages = " ".join(package for package, _ in listed())
    assert calls == [
        f"apt-get noninteractive {APT} update",
        f"apt-get noninteractive {APT} install -y --no-install-recommends {packages}",
        "make CI=true test",
    ]
