"""static/trends.js, the pure part of the chart pages' trend views, run by Node against reference
computations written here: rolling means (none from a partial window), indexed growth (100 at
the base bin, none from zero), the first whole bin, and the view read from and written to a URL.

Node is required under CI=true and the test is skipped without it elsewhere (tests.support.environment).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.environment import require_executable

TRENDS = Path(__file__).resolve().parents[3] / "services" / "web" / "static" / "trends.js"


@pytest.fixture(scope="module")
def node() -> str:
    return require_executable("node")


def call(node: str, function: str, *args: Any) -> Any:
    """``function(*args)`` of trends.js, its result through JSON."""
    script = (
        f"const t = require({json.dumps(str(TRENDS))});"
        f"const r = t.{function}(...{json.dumps(list(args))});"
        "process.stdout.write(JSON.stringify(r instanceof URLSearchParams ? r.toString() : r));"
    )
    done = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


def reference_mean(values: list[int | None], width: int) -> list[float | None]:
    out: list[float | None] = []
    for i in range(len(values)):
        window = values[max(0, i - width + 1) : i + 1]
        full = len(window) == width and None not in window
        out.append(round(sum(v for v in window if v is not None) / width, 2) if full else None)
    return out


@pytest.mark.parametrize("width", [7, 28])
def test_rolling_means_only_from_whole_windows(node: str, width: int) -> None:
    values: list[int | None] = [(i * 37) % 101 for i in range(60)]
    assert call(node, "rollingMean", values, width) == reference_mean(values, width)
    values[20] = None  # a missing value: no mean over any window holding it
    got = call(node, "rollingMean", values, width)
    assert got == reference_mean(values, width)
    assert got[20 : 20 + width] == [None] * width and got[20 + width] is not None


def test_indexed_growth_is_100_at_the_base(node: str) -> None:
    values = [0, 200, 250, 100, None, 300]
    assert call(node, "indexed", values, 1) == [0.0, 100.0, 125.0, 50.0, None, 150.0]
    assert call(node, "indexed", values, 0) == [None] * 6  # growth from nothing has no index
    assert call(node, "indexed", [3, 4], 0) == [100.0, 133.3]


def test_the_base_is_the_first_whole_bin(node: str) -> None:
    partial = {"2026-01-26": {"days": 3, "of": 7}}
    assert call(node, "baseBin", ["2026-01-26", "2026-02-02", "2026-02-09"], partial) == 1
    assert call(node, "baseBin", ["2026-02-02"], {}) == 0
    assert call(node, "baseBin", ["2026-01-26"], partial) == 0


def test_the_view_round_trips_through_the_url(node: str) -> None:
    view = call(node, "readView", "?range=90d&mean=28&pct=system,python_minor&people=1&index=1")
    assert view == {"mean": 28, "pct": ["system", "python_minor"], "people": True, "index": True}
    written = call(node, "writeView", "range=90d&log=1&mean=7", view)
    assert written == "range=90d&log=1&mean=28&pct=python_minor%2Csystem&people=1&index=1"
    off = {"mean": 0, "pct": [], "people": False, "index": False}
    assert call(node, "writeView", "range=90d&mean=7&pct=system", off) == "range=90d"
    # what it does not know is left out
    assert call(node, "readView", "?mean=5&pct=<b>,ok&people=yes") == {
        "mean": 0,
        "pct": ["ok"],
        "people": False,
        "index": False,
    }
