"""The rule for tests whose requirement is missing from the machine (tests.support.environment)
and the end-of-run list of skips (tests/conftest.py): fail under CI=true, skip and list elsewhere.

Two real pytest runs in subprocesses, started together, one with ``CI=true`` and one without, of
the browser tests with Chromium made unavailable (``CHROMIUM_PATH=/nonexistent``; the fixture
that checks it runs before any server is needed) and of samples/skips.py (an ordinary skip, and
a command no machine has).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import conftest
from tests.support import environment
from tests.support.environment import require_executable

ROOT = Path(__file__).resolve().parents[3]
BROWSER_TESTS = "tests/e2e/test_browser.py"
SAMPLES = "tests/unit/support/samples/skips.py"
#: Plugins these runs do not use: hypothesis and schemathesis alone take seconds to import.
QUIET_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:schemathesis")
NO_CHROMIUM = "missing from this machine: chromium: /nonexistent is not an executable file"
NO_TOOL = "missing from this machine: pypistats-no-such-tool: not found on PATH"
NOT_APPLICABLE = "does not apply to this parameter"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        return self.stdout.strip().splitlines()[-1]

    @property
    def summary(self) -> str:
        return self.stdout.split("skipped tests", 1)[1]


def start_pytest(*, ci: bool) -> subprocess.Popen[str]:
    """pytest on the browser tests and the samples, from the project root, with ``CI`` set or
    not (whatever ours is), and Chromium made unavailable."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["CHROMIUM_PATH"] = "/nonexistent"
    if ci:
        env["CI"] = "true"
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", *QUIET_PLUGINS, BROWSER_TESTS, SAMPLES],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Run]]:
    procs = {"ci": start_pytest(ci=True), "local": start_pytest(ci=False)}
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


def test_under_ci_a_missing_requirement_fails_naming_it_and_other_skips_stay(runs: dict[str, Run]) -> None:
    run = runs["ci"]
    assert run.returncode == 1, run.stdout + run.stderr
    errors = browser_test_count()
    assert re.fullmatch(rf"1 failed, 1 passed, 2 skipped, {errors} errors in .*", run.last_line), run.stdout
    assert f"CI=true and a test requirement is {NO_CHROMIUM}" in run.stdout
    assert "Debian package chromium; .ci/run installs it when run as root; CHROMIUM_PATH" in run.stdout
    assert f"CI=true and a test requirement is {NO_TOOL}" in run.stdout
    assert run.summary.splitlines()[1:2] == [f"skipped 2 tests: {NOT_APPLICABLE}"]


def test_elsewhere_they_skip_and_the_summary_lists_each_reason(runs: dict[str, Run]) -> None:
    run = runs["local"]
    assert run.returncode == 0, run.stdout + run.stderr
    count = browser_test_count()
    assert re.fullmatch(rf"1 passed, {count + 3} skipped in .*", run.last_line), run.stdout
    lines = run.summary.splitlines()[1:4]
    assert any(line.startswith(f"skipped {count} tests: {NO_CHROMIUM} (Debian package") for line in lines)
    assert f"skipped 2 tests: {NOT_APPLICABLE}" in lines
    assert f"skipped 1 test: {NO_TOOL}" in lines


class Reporter:
    """The part of pytest's terminal reporter the summary hook uses."""

    def __init__(self, stats: dict[str, list[Any]]) -> None:
        self.stats = stats
        self.lines: list[str] = []

    def section(self, title: str, sep: str) -> None:
        self.lines.append(f"== {title}")

    def line(self, text: str) -> None:
        self.lines.append(text)


def test_summary_says_when_nothing_was_skipped() -> None:
    reporter = Reporter({"passed": [object()]})
    conftest.pytest_terminal_summary(reporter)  # type: ignore[arg-type]
    assert reporter.lines == ["== skipped tests", "no tests skipped"]


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
