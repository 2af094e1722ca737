"""The real ``pypistats`` client (PyPI package) against our API: its five functions and its CLI."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pypistats
import pypistats._cache
import pytest
from aiohttp.test_utils import TestClient

# Reuse the api fixtures (seeded rollups, an in-process API).
from tests.integration.api.conftest import (  # noqa: F401
    END,
    PACKAGES,
    api,
    api_factory,
    recent_expected,
    seeded,
    settings_for,
    without_mirrors,
)

CLIENT_DIR = Path(__file__).parent / "pypistats_client"


@pytest.fixture
def client_base(api: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:  # noqa: F811
    base = str(api.make_url("/api/"))
    monkeypatch.setattr(pypistats, "BASE_URL", base)
    monkeypatch.setattr(pypistats._cache, "CACHE_DIR", tmp_path / "cache")
    return base


async def call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """The client is synchronous (urllib3): run it off the event loop that serves the API."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def test_functions_with_json_format(client_base: str) -> None:
    recent = json.loads(await call(pypistats.recent, "requests", format="json"))
    assert recent == {"data": recent_expected("requests"), "package": "requests", "type": "recent_downloads"}
    day = json.loads(await call(pypistats.recent, "My_Package", period="day", format="json"))
    assert day["data"] == {"last_day": without_mirrors("my-package", END)} and day["package"] == "my-package"
    # total="all" (the default) sums each category over every day.
    overall = json.loads(await call(pypistats.overall, "requests", mirrors=False, format="json"))
    assert overall["data"] == [
        {"category": "without_mirrors", "downloads": sum(PACKAGES["requests"] + i for i in range(40))}
    ]
    major = json.loads(await call(pypistats.python_major, "requests", version="3", format="json"))
    assert [row["category"] for row in major["data"]] == ["3"]
    minor = json.loads(await call(pypistats.python_minor, "requests", total="daily", format="json"))
    assert {row["category"] for row in minor["data"]} == {"2.7", "3.11", "3.12", "null"}
    assert len(minor["data"]) == 4 * 40
    system = json.loads(await call(pypistats.system, "requests", os="linux", total="daily", format="json"))
    n = without_mirrors("requests", END)
    assert {"category": "Linux", "date": END.isoformat(), "downloads": n - n // 3 - 3} in system["data"]


async def test_functions_returning_data_and_markdown(client_base: str) -> None:
    data = await call(pypistats.overall, "requests", format=None)
    by_category = {row["category"]: row["downloads"] for row in data}
    assert by_category["without_mirrors"] == sum(PACKAGES["requests"] + i for i in range(40))
    assert by_category["with_mirrors"] == sum(PACKAGES["requests"] + i + 10 for i in range(40))
    markdown = await call(pypistats.recent, "requests", format="md")
    expected = recent_expected("requests")
    assert "| last_day |" in markdown and f"{expected['last_month']:,}" in markdown
    table = await call(pypistats.system, "requests", format="md")
    assert "Linux" in table and "Total" in table and "Date range:" in table
    for function in (pypistats.python_major, pypistats.python_minor):
        assert "null" in await call(function, "requests", format="md")


async def test_unknown_package_raises_in_the_client(client_base: str) -> None:
    with pytest.raises(Exception, match="HTTP Error 404"):
        await call(pypistats.recent, "no-such-package", format="json")


async def test_cli_subprocess(client_base: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(CLIENT_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        PYPISTATS_BASE_URL=client_base,
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
        NO_COLOR="1",
    )
    for args in (
        ["recent", "requests", "--format", "json"],
        ["overall", "Requests", "--mirrors", "without", "--format", "json"],
        ["system", "requests", "--os", "linux", "--format", "markdown"],
        ["python_minor", "requests", "--format", "json"],
    ):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pypistats",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        text = out.decode()
        if args[0] == "recent":
            assert json.loads(text)["data"] == recent_expected("requests")
        elif args[0] == "overall":
            assert json.loads(text)["data"] == [
                {"category": "without_mirrors", "downloads": sum(PACKAGES["requests"] + i for i in range(40))}
            ]
        elif args[0] == "system":
            linux = sum(n - n // 3 - 3 for n in (PACKAGES["requests"] + i for i in range(40)))
            assert f"| Linux    | {linux:>9,} |" in text, text
        else:
            assert {row["category"] for row in json.loads(text)["data"]} == {"2.7", "3.11", "3.12", "null"}
    assert any((tmp_path / "xdg").rglob("*.json")), "the CLI cached under the temporary XDG_CACHE_HOME"
