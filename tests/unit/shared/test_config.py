import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import (
    INSECURE_SESSION_SECRET,
    ReadReplicaSettings,
    ServiceSettings,
    SessionSettings,
    load_settings,
    redacted,
    strip_password,
)

GOOD_SECRET = "k3J9x-Qv7Lm2Zp8Rt5Wy1Nb4Hc6Df0Ga"
GOOD = {
    "env": "production",
    "database_url": "postgresql://app:pw@db.internal:5432/pypistats",
    "redis_url": "redis://redis.internal:6379/0",
    "nats_url": "nats://nats.internal:4222",
    "session_secret": GOOD_SECRET,
}


def test_local_profile_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENV", raising=False)
    settings = SessionSettings()
    assert settings.env == "local" and not settings.json_logs and not settings.cookie_secure


def test_production_defaults_json_logs_and_secure_cookies() -> None:
    settings = SessionSettings(**GOOD)  # type: ignore[arg-type]
    assert settings.json_logs and settings.cookie_secure
    assert settings.production_problems() == []


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"session_secret": INSECURE_SESSION_SECRET}, "SESSION_SECRET is missing"),
        ({"session_secret": "short"}, "SESSION_SECRET is weak"),
        ({"session_secret": "a" * 40}, "SESSION_SECRET is weak"),
        ({"cookie_secure": False}, "COOKIE_SECURE"),
        (
            {"database_url": "postgresql://postgres:@/postgres?host=/tmp/tmpabc/pg"},
            "DATABASE_URL points at an embedded",
        ),
        ({"redis_url": "redis://127.0.0.1:6379/0"}, "REDIS_URL points at a loopback"),
        ({"nats_url": "nats://nats.internal:4222,nats://localhost:4222"}, "NATS_URL points at a loopback"),
    ],
)
def test_production_problems(override: dict[str, object], needle: str) -> None:
    settings = SessionSettings(**{**GOOD, **override})  # type: ignore[arg-type]
    problems = settings.production_problems()
    assert any(needle in p for p in problems), problems


def test_loopback_allowed_for_one_box_installs() -> None:
    settings = SessionSettings(
        **{**GOOD, "redis_url": "redis://127.0.0.1:6379/0", "allow_loopback_services": True}
    )  # type: ignore[arg-type]
    assert settings.production_problems() == []


def test_load_settings_exits_2_with_one_line_per_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("SESSION_SECRET", raising=False)
    with pytest.raises(SystemExit) as exc:
        load_settings(SessionSettings)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert any("SESSION_SECRET is missing" in line for line in lines)
    assert any("REDIS_URL" in line for line in lines)
    assert all(line.startswith("configuration error: ") for line in lines)


def test_bad_value_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "forever")
    with pytest.raises(SystemExit) as exc:
        load_settings(ServiceSettings)
    assert exc.value.code == 2
    assert "RETENTION_DAYS" in capsys.readouterr().err


def test_secret_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(GOOD_SECRET + "\n")
    monkeypatch.setenv("SESSION_SECRET_FILE", str(secret_file))
    monkeypatch.delenv("SESSION_SECRET", raising=False)
    assert SessionSettings().session_secret.get_secret_value() == GOOD_SECRET


def test_unreadable_secret_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SESSION_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(SystemExit):
        load_settings(SessionSettings)


def test_redacted_hides_secrets_and_url_passwords() -> None:
    shown = redacted(SessionSettings(**GOOD))  # type: ignore[arg-type]
    text = repr(shown)
    assert GOOD_SECRET not in text and ":pw@" not in text
    assert shown["SESSION_SECRET"] == "**********"
    assert shown["DATABASE_URL"] == "postgresql://app:**********@db.internal:5432/pypistats"
    assert strip_password("redis://h:6379") == "redis://h:6379"


def test_check_command_exit_code_and_redaction(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "ENV": "production",
        "SESSION_SECRET": "weak",
        "REDIS_URL": "redis://127.0.0.1/0",
    }
    bad = subprocess.run(
        [sys.executable, "-m", "shared.config", "check"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert "REDIS_URL points at a loopback" in bad.stderr
    good_env = {"PATH": "/usr/bin:/bin", **{k.upper(): str(v) for k, v in GOOD.items()}}
    good = subprocess.run(
        [sys.executable, "-m", "shared.config", "check"], env=good_env, capture_output=True, text=True
    )
    assert good.returncode == 0, good.stderr
    assert "DATABASE_URL=postgresql://app:**********@db.internal:5432/pypistats" in good.stdout
    assert ":pw@" not in good.stdout


def test_read_replica_url_defaults_to_the_primary_and_is_checked_in_production() -> None:
    settings = ReadReplicaSettings(**GOOD)  # type: ignore[arg-type]
    assert settings.read_database_url == "" and not settings.separate_reads
    same = ReadReplicaSettings(**{**GOOD, "read_database_url": GOOD["database_url"]})  # type: ignore[arg-type]
    assert not same.separate_reads
    replica = ReadReplicaSettings(
        **{**GOOD, "read_database_url": "postgresql://app:pw@db-ro.internal/pypistats"}
    )  # type: ignore[arg-type]
    assert replica.separate_reads and replica.production_problems() == []
    local = ReadReplicaSettings(**{**GOOD, "read_database_url": "postgresql://app:pw@127.0.0.1/pypistats"})  # type: ignore[arg-type]
    assert any("READ_DATABASE_URL points at a loopback" in p for p in local.production_problems())
    assert "pw" not in str(redacted(replica)["READ_DATABASE_URL"])


def test_worker_processes_default_to_the_usable_cores_in_production_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert SessionSettings(**GOOD).workers == 3
    assert SessionSettings(**{**GOOD, "web_concurrency": 1}).workers == 1
    monkeypatch.delenv("ENV", raising=False)
    assert SessionSettings().workers == 1
    assert SessionSettings(web_concurrency=4).workers == 4
