"""The ``make run`` reverse proxy against three small aiohttp upstreams on free ports."""

from __future__ import annotations

import asyncio
import gzip
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


async def _start(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def _upstream(name: str) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {"service": name, "path": request.path_qs, "method": request.method, "body": body.decode(),
             "xff": request.headers.get("X-Forwarded-For"), "host": request.headers.get("Host")}
        )  # fmt: skip

    async def redirect(request: web.Request) -> web.Response:
        response = web.Response(status=302, headers={"Location": "/elsewhere"})
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    async def zipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b"x" * 1000), headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get(f"/{name}/redirect", redirect)
    app.router.add_get("/zipped", zipped)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture
async def proxy_url() -> AsyncIterator[str]:
    runners, upstreams = [], {}
    for name in ("api", "web", "auth"):
        port = free_port()
        runners.append(await _start(_upstream(name), port))
        upstreams[name] = f"http://127.0.0.1:{port}"
    upstreams["dead"] = f"http://127.0.0.1:{free_port()}"
    port = free_port()
    runners.append(await _start(create_proxy_app(upstreams), port))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


async def test_paths_reach_their_service_unchanged(proxy_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        for path, service in [("/api/packages/x/recent?&period=day", "api"), ("/auth/login", "auth"),
                              ("/packages/django?lookback=30", "web"), ("/apix", "web")]:  # fmt: skip
            async with client.get(proxy_url + path) as response:
                body = await response.json()
            assert (body["service"], body["path"]) == (service, path)
            assert body["xff"] == "127.0.0.1" and body["host"] == proxy_url.removeprefix("http://")


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
        async with client.get(proxy_url + "/zipped") as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert await response.read() == b"x" * 1000


async def test_a_stopped_service_gives_a_json_502() -> None:
    port = free_port()
    runner = await _start(create_proxy_app({"web": f"http://127.0.0.1:{free_port()}"}), port)
    try:
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{port}/") as response:
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
