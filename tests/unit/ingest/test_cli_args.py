"""The ``python -m services.ingest`` argument parser, and the command the Helm chart's CronJob runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from services.ingest.app import build_parser

VALUES = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "pypistats" / "values.yaml"


def test_pass_defaults_refuse_a_held_lock_at_once_and_show_progress() -> None:
    args = build_parser().parse_args(["pass"])
    assert (args.command, args.source, args.lock_wait, args.no_progress) == ("pass", None, 0.0, False)


def test_the_chart_cronjob_runs_one_pass_that_parses() -> None:
    command = yaml.safe_load(VALUES.read_text())["ingest"]["cronjob"]["command"]
    assert command[:3] == ["python", "-m", "services.ingest"]
    args = build_parser().parse_args(command[3:])
    assert args.command == "pass" and args.lock_wait > 300  # outlives a killed pod's lock (TTL 300 s)


def test_pass_rejects_a_bad_lock_wait(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["pass", "--lock-wait", "soon"])
    assert exit_info.value.code == 2
    assert "--lock-wait" in capsys.readouterr().err


def test_backfill_starts_at_a_day_or_at_the_source_s_first_day_and_ends_yesterday_by_default() -> None:
    args = build_parser().parse_args(["backfill", "--start", "first"])
    assert (args.start, args.end, args.max_usd, args.dry_run, args.include_complete) == (
        "first", None, None, False, False,
    )  # fmt: skip
    args = build_parser().parse_args(
        ["backfill", "--start", "2016-01-22", "--end", "2024-05-09", "--max-usd", "250", "--dry-run"]
    )
    assert (args.start, args.end, args.max_usd, args.dry_run) == (
        dt.date(2016, 1, 22), dt.date(2024, 5, 9), 250.0, True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["backfill", "--start", "firstday"], "not a YYYY-MM-DD date"),
        (["backfill", "--start", "first", "--max-usd", "-3"], "not an amount of USD"),
        (["backfill", "--start", "first", "--max-usd", "nan"], "not an amount of USD"),
        (["backfill", "--end", "2024-05-09"], "--start"),
    ],
)
def test_backfill_rejects_bad_arguments(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert needle in capsys.readouterr().err
