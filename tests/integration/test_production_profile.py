"""Each service started with ENV=production: a bad environment exits 2 naming every problem, a good
one serves. The services run as real subprocesses (``python -m services.<name> serve``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from shared.embedded import free_port
from tests.support.wait import wait_until

STRONG_SECRET = "Vq8-mZ2xLr4NpT7sKc1Yw9HbD3fGj6Ue"
RAW_FIXTURE = next(Path(__file__).resolve().parents[1].joinpath("fixtures", "ingest").glob("*.jsonl"))

SERVICES = {
    # name: (port variable, extra variables of a good production environment)
    "api": ("PORT", {"TRUSTED_PROXY_COUNT": "1"}),
    "web": ("PORT", {"SESSION_SECRET": STRONG_SECRET}),
    "auth": (
        "PORT",
        {
            "SESSION_SECRET": STRONG_SECRET,
            "GITHUB_CLIENT_ID": "Iv1.0123456789abcdef",
            "GITHUB_CLIENT_SECRET": "x" * 40,
            "PUBLIC_URL": "https://pypistats.example",
        },
    ),
    "aggregator": ("OPS_PORT", {}),
    "ingest": ("OPS_PORT", {"SOURCE": "raw", "RAW_PATH": str(RAW_FIXTURE), "INGEST_RUN_ON_START": "false"}),
}

# What each service must name when started in production with the bad environment below.
EXPECTED_PROBLEMS = {
    "api": ["REDIS_URL", "TRUSTED_PROXY_COUNT"],
    "web": ["REDIS_URL", "SESSION_SECRET"],
    "auth": ["REDIS_URL", "SESSION_SECRET", "GITHUB_CLIENT_ID"],
    "aggregator": ["REDIS_URL"],
    "ingest": ["REDIS_URL", "SOURCE=synthetic"],
}


def _bad_env(service_env: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in service_env.items()
        if k not in ("SESSION_SECRET", "GITHUB_CLIENT_ID", "TRUSTED_PROXY_COUNT")
    }
    env.update(ENV="production", REDIS_URL="redis://127.0.0.1:6379/0", ALLOW_LOOPBACK_SERVICES="false")
    return env


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_bad_production_environment_exits_2_naming_each_problem(
    service: str, service_env: dict[str, str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", f"services.{service}", "serve"],
        env=_bad_env(service_env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("configuration error: ")]
    for needle in EXPECTED_PROBLEMS[service]:
        assert any(needle in line for line in lines), (needle, result.stderr)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_good_production_environment_serves(service: str, service_env: dict[str, str]) -> None:
    port_var, extra = SERVICES[service]
    port = free_port()
    env = {
        **service_env,
        **extra,
        "ENV": "production",
        "ALLOW_LOOPBACK_SERVICES": "true",
        port_var: str(port),
    }
    env["OPS_HOST"] = "127.0.0.1"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"services.{service}", "serve", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    # Read the logs as they come: a full pipe would block the service's workers and its shutdown.
    stderr = asyncio.create_task(proc.stderr.read())
    try:
        async with aiohttp.ClientSession() as http:

            async def healthy() -> bool:
                if proc.returncode is not None:
                    output = await stderr
                    raise AssertionError(f"{service} exited {proc.returncode}: {output.decode()[-2000:]}")
                try:
                    async with http.get(f"http://127.0.0.1:{port}/health") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_until(healthy, timeout=60, interval=0.2, what=f"{service} /health")
            async with http.get(f"http://127.0.0.1:{port}/ready") as response:
                text = await response.text()
                assert STRONG_SECRET not in text and "x" * 40 not in text
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
    logs = (await stderr).decode()
    assert STRONG_SECRET not in logs and "x" * 40 not in logs
    log_lines = [line for line in logs.splitlines() if line.strip()]
    assert log_lines, "the service logged nothing"
    assert all(line.startswith("{") for line in log_lines), log_lines[:3]  # JSON logs in production
