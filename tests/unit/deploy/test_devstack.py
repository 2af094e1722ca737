"""The pure parts of ``make run``: which days to fill, command lines, proxy headers (its routing
table is every front door's: tests/unit/deploy/test_frontdoor.py)."""

from __future__ import annotations

import datetime as dt
import io

from pathlib import Path

import pytest

from shared import devstack
from shared.devstack import DevstackSettings, fill_plan, forward_headers, service_commands
from shared.devstack.console import Console, Progress
from shared.devstack.plan import first_fill_line, history_done_line, history_line

TODAY = dt.date(2024, 6, 10)


def test_fresh_database_fills_the_newest_days_first_and_the_rest_after() -> None:
    plan = fill_plan([], TODAY, 730, 30)
    assert plan.first == (dt.date(2024, 5, 11), dt.date(2024, 6, 9))  # the newest 30 closed days
    assert plan.rest == (dt.date(2022, 6, 11), dt.date(2024, 5, 10))  # the 700 before them
    assert (plan.first_missing, plan.rest_missing, plan.oldest) == (30, 700, dt.date(2022, 6, 11))
    assert (plan.rest[1] - plan.rest[0]).days + 1 + (plan.first[1] - plan.first[0]).days + 1 == 730
    assert DevstackSettings().devstack_days == 730 and DevstackSettings().devstack_first_days == 30


def test_complete_history_fills_nothing() -> None:
    complete = [TODAY - dt.timedelta(days=i) for i in range(1, 800)]
    plan = fill_plan(complete, TODAY, 730, 30)
    assert (plan.first, plan.rest) == (None, None)


def test_next_day_fills_only_the_new_day_before_serving() -> None:
    complete = [TODAY - dt.timedelta(days=i) for i in range(2, 732)]
    plan = fill_plan(complete, TODAY, 730, 30)
    assert (plan.first, plan.rest, plan.first_missing) == (
        (dt.date(2024, 6, 9), dt.date(2024, 6, 9)),
        None,
        1,
    )


def test_an_interrupted_history_resumes_in_the_background_only() -> None:
    # the newest 30 and the 100 before them are in; a Ctrl-C stopped the history there
    complete = [dt.date(2024, 6, 9) - dt.timedelta(days=i) for i in range(130)]
    plan = fill_plan(complete, TODAY, 730, 30)
    assert plan.first is None
    assert plan.rest == (dt.date(2022, 6, 11), dt.date(2024, 6, 9) - dt.timedelta(days=130))
    assert plan.rest_missing == 600


def test_a_short_history_is_all_filled_first() -> None:
    plan = fill_plan([], TODAY, 3, 30)
    assert (plan.first, plan.rest, plan.first_days) == ((dt.date(2024, 6, 7), dt.date(2024, 6, 9)), None, 3)
    old = [dt.date(2020, 1, 1)]  # days outside the window do not count
    assert fill_plan(old, TODAY, 3, 30).first_missing == 3


def test_the_console_lines_say_what_is_filled_when() -> None:
    assert first_fill_line(fill_plan([], TODAY, 1, 30), 5) == (
        "  first fill: 1 day of 5 synthetic packages, through ingest -> NATS -> aggregator"
    )
    plan = fill_plan([], TODAY, 730, 30)
    assert first_fill_line(plan, 500) == (
        "  first fill: the newest 30 days of 500 synthetic packages, through ingest -> NATS -> aggregator"
    )
    assert history_line(plan) == (
        "  history: 700 days from 2022-06-11 to 2024-05-10 filling in the background, newest first"
    )
    assert history_done_line(plan) == "  history complete: 730 days from 2022-06-11"


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
    # the scheduler fills gaps in the newest 30 days only (29 before the last closed day): the
    # older ones are the history backfill's
    assert commands["ingest"].env["INGEST_GAP_DAYS"] == "29" and "INGEST_GAP_DAYS" not in commands["api"].env
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
    assert (
        devstack.backfill_command("py", dt.date(2024, 1, 1), dt.date(2024, 6, 29), "history").name
        == "history"
    )
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
    assert env["EXPORT_DIR"] == str(Path(".run") / "exports")  # beside the embedded servers' data


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


def test_off_a_terminal_a_long_count_prints_a_line_now_and_then_and_its_end() -> None:
    out = io.StringIO()  # not a terminal: no bar, no carriage returns
    quiet = Console(out).progress(700, "day", "history aggregated")  # the default: a line a minute
    quiet.update_to(5)
    quiet.close()
    assert out.getvalue() == "  history aggregated: 5/700\n"
    out = io.StringIO()
    chatty = Progress(Console(out), 700, "day", "history aggregated", every_s=0.0)
    for n in (0, 10, 10, 20, 700):
        chatty.update_to(n)
    chatty.close()
    assert out.getvalue().splitlines() == [
        "  history aggregated: 10/700", "  history aggregated: 20/700", "  history aggregated: 700/700",
    ]  # fmt: skip
