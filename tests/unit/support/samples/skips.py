"""Sample tests for tests/unit/support/test_environment.py, which runs them in a subprocess.

Not collected by a normal run (the name does not start with ``test_``); collected when named on
the command line. One passes, two are skipped for a reason that is not about the machine, one
needs a command no machine has.
"""

from __future__ import annotations

import pytest

from tests.support.environment import require_executable


def test_runs() -> None:
    assert True


@pytest.mark.parametrize("n", [1, 2])
def test_not_for_this_parameter(n: int) -> None:
    pytest.skip("does not apply to this parameter")


def test_needs_a_tool() -> None:
    require_executable("pypistats-no-such-tool")
