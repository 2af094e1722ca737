"""The ``make run`` reverse proxy against three small aiohttp upstreams on free ports: it routes
every path as every front door must (tests.support.frontdoor.CASES) and forwards requests
unchanged."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from shared.devstack import Command, Supervisor, create_proxy_app
from shared.embedded import free_port
from tests.support.frontdoor import CASES, echo_upstream, start_app


@pytest.fixture
async def proxy_url() -> AsyncIterator[str]:
    runners, upstreams = [], {}
    for name in ("api", "web", "auth"):
        port = free_port()
        runners.append(await start_app(echo_upstream(name), port))
        upstreams[name] = f"http://127.0.0.1:{port}"
    upstreams["dead"] = f"http://127.0.0.1:{free_port()}"
    port = free_port()
    runners.append(await start_app(create_proxy_app(upstreams), port))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


async def test_paths_reach_their_service_unchanged(proxy_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        for path, service in [("/api/packages/x/recent?&period=day", "api"), ("/auth/login", "auth"),
                              ("/packages/django?lookback=30", "web"), ("/api?x=1", "web")]:  # fmt: skip
            async with client.get(proxy_url + path) as response:
                body = await response.json()
            assert (body["service"], body["path"]) == (service, path)
            assert body["xff"] == "127.0.0.1" and body["host"] == proxy_url.removeprefix("http://")


async def test_every_path_is_routed_like_at_every_front_door(proxy_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        for path, service in CASES.items():
            async with client.get(proxy_url + path) as response:
                if service is None:  # not routed: the proxy itself answers, no upstream is asked
                    assert response.status == 404, path
                    assert response.content_type == "text/plain", path
                else:
                    assert (await response.json())["service"] == service, path


async def test_post_bodies_are_forwarded(proxy_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.post(proxy_url + "/auth/packages", data="package=django&csrf=t") as response:
            body = await response.json()
    assert body["method"] == "POST" and body["body"] == "package=django&csrf=t"


async def test_redirects_and_every_cookie_go_back_to_the_browser(proxy_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy_url + "/auth/redirect", allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == "/elsewhere"
            assert sorted(response.headers.getall("Set-Cookie"))[0].startswith("a=1")
            assert len(response.headers.getall("Set-Cookie")) == 2


async def test_compressed_bodies_pass_through(proxy_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy_url + "/packages/zipped") as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert await response.read() == b"x" * 1000


async def test_a_stopped_service_gives_a_json_502() -> None:
    port = free_port()
    runner = await start_app(create_proxy_app({"web": f"http://127.0.0.1:{free_port()}"}), port)
    try:
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{port}/top") as response:
                assert response.status == 502
                assert (await response.json())["error"]["status"] == 502
    finally:
        await runner.cleanup()


async def test_devstack_refuses_a_taken_port_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DEVSTACK_PORT": str(port), "DEVSTACK_DATA_DIR": str(tmp_path / "run")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shared.devstack", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert f"127.0.0.1:{port} is in use" in output.decode()
    assert not (tmp_path / "run").exists()  # no embedded server was started


async def test_supervisor_prefixes_output_and_survives_huge_lines(
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    code = "import sys; print('hello'); print('x' * 3_000_000); print('after'); sys.exit(3)"
    supervisor = Supervisor()
    proc = await supervisor.start(Command("child", (sys.executable, "-c", code)), {}, oneshot=True)
    assert await asyncio.wait_for(proc.wait(), 30) == 3
    await supervisor.stop()
    out = capfdbinary.readouterr().out
    assert b"      child | hello\n" in out
    assert b"      child | after\n" in out
    assert out.count(b"x") >= 3_000_000
    assert supervisor.exited() == []  # a one-shot command is expected to exit


async def test_supervisor_stops_long_running_children() -> None:
    supervisor = Supervisor()
    code = "import time\nwhile True: time.sleep(1)"
    proc = await supervisor.start(Command("sleeper", (sys.executable, "-c", code)), {})
    assert supervisor.exited() == []
    await supervisor.stop(grace=5)
    assert proc.returncode is not None and proc.returncode != 0
