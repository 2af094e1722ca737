"""``WEB_CONCURRENCY``: one HTTP service served by several worker processes on one port
(shared.workers), as ``python -m services.api serve`` runs it: both workers answer, ``/metrics``
on either sums over both, a worker that dies is replaced, and SIGTERM stops them all cleanly."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from pathlib import Path

import aiohttp
import psutil

from shared.embedded import free_port
from shared.workers import MIN_UPTIME_S
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[3]


def children(process: psutil.Process) -> set[int]:
    """The pids of the supervisor's live workers (one may be exiting while they are listed)."""
    try:
        return {c.pid for c in process.children() if c.status() != psutil.STATUS_ZOMBIE}
    except psutil.NoSuchProcess:
        return set()


async def test_two_workers_share_the_port_and_their_metrics(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = service_env | {"PORT": str(port), "OPS_HOST": "127.0.0.1", "WEB_CONCURRENCY": "2"}
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.api", "serve", env=env, cwd=ROOT, stdout=out, stderr=out
        )
    supervisor = psutil.Process(proc.pid)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def answering() -> bool:
                assert proc.returncode is None, log.read_text()[-3000:]
                if len(children(supervisor)) < 2:
                    return False
                try:
                    async with session.get(f"{base}/health") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_until(answering, timeout=60, what="two api workers answering")
            workers = children(supervisor)
            assert len(workers) == 2

            async def metrics() -> str:
                # a new connection each time: the kernel hands it to either worker
                async with aiohttp.ClientSession() as fresh, fresh.get(f"{base}/metrics") as response:
                    return await response.text()

            for _ in range(30):
                async with aiohttp.ClientSession() as fresh, fresh.get(f"{base}/health") as response:
                    assert response.status == 200

            async def both_in_metrics() -> bool:
                # each worker's gauge (set once its app has started), in any worker's answer
                pids = set(re.findall(r'pypistats_api_redis_up\{pid="(\d+)"\}', await metrics()))
                return pids == {str(p) for p in workers}

            await wait_until(both_in_metrics, timeout=30, what="both workers' gauges in /metrics")
            served = re.search(
                r'pypistats_api_http_requests_total\{method="GET",route="/health",status="200"\} (\S+)',
                await metrics(),
            )
            assert served is not None and float(served.group(1)) >= 30  # the sum over both

            # A worker that dies (after its start) is replaced; the port keeps answering.
            victim = psutil.Process(min(workers))

            async def settled() -> bool:
                return time.time() - victim.create_time() > MIN_UPTIME_S + 1  # psutil rounds start times

            await wait_until(settled, timeout=MIN_UPTIME_S + 10, what="the worker to be past its start")
            victim.kill()

            async def replaced() -> bool:
                now = children(supervisor)
                return len(now) == 2 and victim.pid not in now

            await wait_until(replaced, timeout=30, what="the dead worker replaced")
            await wait_until(answering, timeout=60, what="both workers answering again")
        last = [psutil.Process(pid) for pid in children(supervisor)]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0, log.read_text()[-3000:]
        assert not [c for c in last if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    finally:
        if proc.returncode is None:
            for child in supervisor.children():
                child.kill()
            proc.kill()
            await proc.wait()
