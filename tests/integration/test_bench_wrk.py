"""Smoke test of the benchmarks' load generator: bench.common.wrk runs Debian's ``wrk`` for a
second, with bench/random_package.lua, against a small server counting what it is asked for.

Keeps the HTTP benchmarks from rotting where no benchmark runs: wrk is there (.ci/prepare installs
it; a missing one fails under CI=true), its output still parses, and the Lua script asks for
random names from the file it is given, in the shape the benchmarks use.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.common import Load, wrk
from tests.support.environment import require_executable

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("alpha", "beta", "gamma", "delta")


async def test_wrk_with_the_random_package_script(tmp_path: Path) -> None:
    require_executable("wrk")
    asked: Counter[str] = Counter()

    async def recent(request: web.Request) -> web.Response:
        asked[request.match_info["name"]] += 1
        return web.json_response({"data": {"last_day": 1}})

    app = web.Application()
    app.router.add_get("/api/packages/{name}/recent", recent)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    names = tmp_path / "names.txt"
    names.write_text("\n".join(NAMES) + "\n")
    load = Load(4, ROOT / "bench" / "random_package.lua", (str(names), "/api/packages/", "/recent"))
    try:
        rps, p50, p99, count, timeouts = await asyncio.to_thread(wrk, str(server.make_url("/")), 1, load)
    finally:
        await server.close()
    assert rps > 0 and count > 0 and timeouts == 0
    assert 0 < p50 <= p99
    assert set(asked) <= set(NAMES) and len(asked) > 1  # random names, only from the file
    assert sum(asked.values()) >= count  # wrk counts completed requests; the server saw each


async def test_a_global_endpoint_asks_its_one_path(tmp_path: Path) -> None:
    """bench.reads' endpoints without a package (``/api/trending`` ...): the Lua script, given a
    names file of the one name and the endpoint's prefix, asks exactly the path the baseline
    serves (its route) and the services are asked for."""
    from bench.reads import ENDPOINTS, write_lines

    require_executable("wrk")
    fixed = [e for e in ENDPOINTS if e.fixed is not None]
    assert {e.route for e in fixed} == {"/api/trending", "/api/exports", "/trending", "/ecosystem"}
    asked: Counter[str] = Counter()

    async def handle(request: web.Request) -> web.Response:
        asked[request.path_qs] += 1
        return web.Response(text="ok")

    app = web.Application()
    for e in fixed:
        app.router.add_get(e.route, handle)
    app.router.add_get("/{tail:.*}", handle)  # anything else is counted too
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        for e in fixed:
            names = write_lines(tmp_path / f"{e.name}.txt", [e.fixed or ""])
            load = Load(2, ROOT / "bench" / "random_package.lua", (str(names), e.prefix, e.suffix))
            await asyncio.to_thread(wrk, str(server.make_url("/")), 1, load)
            assert set(asked) == {e.path("any-package")} == {e.route}
            asked.clear()
    finally:
        await server.close()
