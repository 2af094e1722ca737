"""The rule for tests whose requirement is missing from the machine (tests.support.environment)
and the end-of-run list of skips (tests/conftest.py): fail under CI=true, skip and list elsewhere.

The pytest runs in subprocesses are real: the browser tests with Chromium made unavailable
(``CHROMIUM_PATH=/nonexistent``; the fixture that checks it runs before any server is needed),
and a small test file written here, run with tests/conftest.py as a plugin. The four runs start
together (they are independent) so they cost one interpreter start-up of wall time, not four.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import environment
from tests.support.environment import require_executable

ROOT = Path(__file__).resolve().parents[3]
BROWSER_TESTS = "tests/e2e/test_browser.py"
#: Plugins these runs do not use: hypothesis and schemathesis alone take seconds to import.
QUIET_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:schemathesis")
NO_CHROMIUM = "missing from this machine: chromium: /nonexistent is not an executable file"
NO_TOOL = "missing from this machine: pypistats-no-such-tool: not found on PATH"

SMALL_RUN = """
import pytest
from tests.support.environment import require_executable

def test_runs():
    assert True

@pytest.mark.parametrize("n", [1, 2])
def test_not_for_this_parameter(n):
    pytest.skip("does not apply to this parameter")

def test_needs_a_tool():
    require_executable("pypistats-no-such-tool")
"""


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    def last_line(self) -> str:
        return self.stdout.strip().splitlines()[-1]


def start_pytest(*args: str, ci: bool, **env: str) -> subprocess.Popen[str]:
    """pytest in a subprocess from the project root, with ``CI`` set or not (whatever ours is)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "CHROMIUM_PATH", "PYTEST_ADDOPTS")}
    clean.update(env, **({"CI": "true"} if ci else {}))
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", *QUIET_PLUGINS, *args],
        cwd=ROOT,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    small = tmp_path_factory.mktemp("small") / "test_small.py"
    small.write_text(SMALL_RUN)
    small_args = ("-c", str(ROOT / "pyproject.toml"), "--rootdir", str(small.parent), "-p", "tests.conftest")
    procs = {
        "browser ci": start_pytest(BROWSER_TESTS, ci=True, CHROMIUM_PATH="/nonexistent"),
        "browser": start_pytest(BROWSER_TESTS, ci=False, CHROMIUM_PATH="/nonexistent"),
        "small ci": start_pytest(*small_args, str(small), ci=True),
        "small": start_pytest(*small_args, str(small), ci=False),
    }
    try:
        found = {}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=180)
            found[name] = Run(proc.returncode, out, err)
        yield found
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def browser_test_count() -> int:
    return len(re.findall(r"^async def test_", (ROOT / BROWSER_TESTS).read_text(), re.MULTILINE))


def test_ci_without_chromium_fails_every_browser_test_naming_it(runs: dict[str, Run]) -> None:
    run = runs["browser ci"]
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"CI=true and a test requirement is {NO_CHROMIUM}" in run.stdout
    assert "Debian package chromium; .ci/run installs it when run as root" in run.stdout
    assert re.fullmatch(rf"{browser_test_count()} errors in .*", run.last_line()), run.stdout
    assert "no tests skipped" in run.stdout


def test_without_ci_the_browser_tests_skip_and_the_summary_lists_them(runs: dict[str, Run]) -> None:
    run = runs["browser"]
    count = browser_test_count()
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.fullmatch(rf"{count} skipped in .*", run.last_line()), run.stdout
    assert f"skipped {count} tests: {NO_CHROMIUM}" in run.stdout


def test_summary_groups_skips_by_reason(runs: dict[str, Run]) -> None:
    run = runs["small"]
    assert run.returncode == 0, run.stdout + run.stderr
    summary = run.stdout.split("skipped tests", 1)[1]
    assert "skipped 2 tests: does not apply to this parameter" in summary
    assert f"skipped 1 test: {NO_TOOL}" in summary


def test_under_ci_only_the_missing_requirement_fails(runs: dict[str, Run]) -> None:
    run = runs["small ci"]
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.fullmatch(r"1 failed, 1 passed, 2 skipped in .*", run.last_line()), run.stdout
    assert f"CI=true and a test requirement is {NO_TOOL}" in run.stdout
    assert "skipped 2 tests: does not apply to this parameter" in run.stdout


def test_the_override_variable_wins_and_must_name_an_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TOOL_PATH", str(tool))
    with pytest.raises(pytest.skip.Exception, match="is not an executable file.*TOOL_PATH sets its path"):
        require_executable("tool", "/usr/bin/env", override="TOOL_PATH")
    tool.chmod(0o755)
    assert require_executable("tool", "/nonexistent", override="TOOL_PATH") == str(tool)
    monkeypatch.delenv("TOOL_PATH")
    assert require_executable("env", "/usr/bin/env", override="TOOL_PATH") == "/usr/bin/env"


@pytest.mark.parametrize(
    ("value", "ci"), [("true", True), ("1", True), ("YES", True), ("", False), ("false", False)]
)
def test_ci_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, ci: bool) -> None:
    monkeypatch.setenv("CI", value)
    assert environment.in_ci() is ci


def test_debian_packages_are_named_from_the_one_list() -> None:
    assert environment.debian_package("chromium") == "chromium"
    assert environment.debian_package("wrk") == "wrk"
    assert environment.debian_package("pypistats-no-such-tool") is None
