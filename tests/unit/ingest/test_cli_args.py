"""The ``python -m services.ingest`` argument parser, and the command the Helm chart's CronJob runs."""

from __future__ import annotations

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
