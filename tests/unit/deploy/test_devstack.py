"""The pure parts of ``make run``: which days to fill, command lines, proxy headers (its routing
table is every front door's: tests/unit/deploy/test_frontdoor.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from shared import devstack
from shared.devstack import DevstackSettings, days_to_fill, forward_headers, service_commands

TODAY = dt.date(2024, 6, 10)


def test_fresh_database_fills_the_whole_window_ending_yesterday() -> None:
    assert days_to_fill([], TODAY, 180) == (dt.date(2023, 12, 13), dt.date(2024, 6, 9))
    start, end = days_to_fill([], TODAY, 180) or (None, None)
    assert start is not None and end is not None and (end - start).days + 1 == 180


def test_complete_window_fills_nothing() -> None:
    complete = [TODAY - dt.timedelta(days=i) for i in range(1, 200)]
    assert days_to_fill(complete, TODAY, 180) is None


def test_next_day_fills_only_the_new_day() -> None:
    complete = [TODAY - dt.timedelta(days=i) for i in range(2, 182)]
    assert days_to_fill(complete, TODAY, 180) == (dt.date(2024, 6, 9), dt.date(2024, 6, 9))


def test_interrupted_fill_resumes_over_the_missing_span() -> None:
    complete = [dt.date(2024, 6, 9) - dt.timedelta(days=i) for i in range(30, 180)]
    assert days_to_fill(complete, TODAY, 180) == (dt.date(2024, 5, 11), dt.date(2024, 6, 9))


def test_days_outside_the_window_do_not_count() -> None:
    old = [dt.date(2020, 1, 1)]
    assert days_to_fill(old, TODAY, 3) == (dt.date(2024, 6, 7), dt.date(2024, 6, 9))


def _commands(fake: bool, fake_pypi: bool = True) -> dict[str, devstack.Command]:
    ports = {"aggregator": 1, "ingest": 2, "api": 3, "web": 4, "auth": 5, "fake-github": 6, "fake-pypi": 7}
    return {c.name: c for c in service_commands("py", ports, "http://127.0.0.1:8000", fake, fake_pypi)}


def test_every_service_is_started_through_its_module() -> None:
    commands = _commands(fake=True)
    assert list(commands) == ["aggregator", "ingest", "fake-pypi", "fake-github", "api", "web", "auth"]
    for name in ("aggregator", "ingest", "api", "web", "auth"):
        assert commands[name].argv == ("py", "-m", f"services.{name}", "serve")
    assert commands["fake-github"].argv == ("py", "-m", "services.auth", "fake-github", "--port", "6")
    assert commands["aggregator"].env["OPS_PORT"] == "1" and commands["ingest"].env["OPS_PORT"] == "2"
    assert [commands[n].env["PORT"] for n in ("api", "web", "auth")] == ["3", "4", "5"]
    assert commands["auth"].env["FAKE_GITHUB_URL"] == "http://127.0.0.1:6"
    assert commands["auth"].env["PUBLIC_URL"] == "http://127.0.0.1:8000"


def test_package_pages_read_the_fake_pypi_unless_a_pypi_is_named() -> None:
    commands = _commands(fake=True)
    assert commands["fake-pypi"].argv == ("py", "-m", "services.web", "fake-pypi", "--port", "7")
    assert commands["web"].env["PYPI_URL"] == "http://127.0.0.1:7"
    assert "PYPI_URL" not in commands["api"].env and "PYPI_URL" not in commands["auth"].env
    real = _commands(fake=True, fake_pypi=False)
    assert "fake-pypi" not in real and "PYPI_URL" not in real["web"].env


def test_a_configured_github_app_starts_no_fake() -> None:
    commands = _commands(fake=False)
    assert "fake-github" not in commands
    assert not any("GITHUB" in k for k in commands["auth"].env)


def test_backfill_command_uses_the_synthetic_source() -> None:
    command = devstack.backfill_command("py", dt.date(2024, 1, 1), dt.date(2024, 6, 29))
    assert command.argv == ("py", "-m", "services.ingest", "backfill", "--start", "2024-01-01",
                            "--end", "2024-06-29", "--source", "synthetic", "--no-progress")  # fmt: skip


def test_common_env_points_every_service_at_the_same_servers() -> None:
    settings = DevstackSettings(devstack_packages=123, namespace="dev")
    env = devstack.common_env(
        {"postgres": "postgresql://x/db", "redis": "redis://r", "nats": "nats://n"}, settings
    )
    assert env["DATABASE_URL"] == "postgresql://x/db" and env["REDIS_URL"] == "redis://r"
    assert env["NATS_URL"] == "nats://n" and env["NAMESPACE"] == "dev"
    assert env["SYNTHETIC_PACKAGES"] == "123" and env["ENV"] == "local"


def test_forwarded_headers_drop_hop_by_hop_and_append_the_client() -> None:
    incoming = {"Connection": "keep-alive", "Host": "127.0.0.1:8000", "X-Forwarded-For": "10.0.0.9",
                "Cookie": "s=1", "Transfer-Encoding": "chunked", "Accept": "text/html"}  # fmt: skip
    out = forward_headers(incoming, "127.0.0.1", "127.0.0.1:8000", "http")
    assert "Connection" not in out and "Transfer-Encoding" not in out
    assert out["X-Forwarded-For"] == "10.0.0.9, 127.0.0.1"
    assert out["X-Forwarded-Host"] == "127.0.0.1:8000" and out["X-Forwarded-Proto"] == "http"
    assert out["Cookie"] == "s=1" and out["Accept"] == "text/html" and out["Host"] == "127.0.0.1:8000"


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSTACK_PORT", "8123")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = DevstackSettings()
    assert settings.devstack_port == 8123 and settings.database_url is None
    monkeypatch.setenv("DEVSTACK_PORT", "99999")
    with pytest.raises(ValueError):
        DevstackSettings()
