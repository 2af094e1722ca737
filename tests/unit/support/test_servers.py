"""Where the run's servers come from (tests.support.servers): containers asked for while no Docker
engine answers stop a CI run, naming the engine, instead of quietly using embedded servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import servers


def test_containers_without_a_docker_engine_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("TEST_DATABASE_URL", "TEST_REDIS_URL", "TEST_NATS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYPISTATS_TEST_SERVICES", "containers")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(servers, "_docker_answers", lambda: False)  # no socket is opened
    with pytest.raises(
        RuntimeError, match="CI=true and PYPISTATS_TEST_SERVICES=containers but no Docker engine answers"
    ):
        servers.resolve_servers(tmp_path)
