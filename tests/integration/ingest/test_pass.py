"""``python -m services.ingest pass`` as a subprocess: one scheduler pass, its exit status and its lock."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path

import asyncpg
from nats.js import JetStreamContext
from redis.asyncio import Redis

from services.ingest.lock import RedisLock
from shared.events import Subjects
from tests.integration.ingest.streams import read_stream, stream_message_count
from tests.integration.ingest.test_cli import ROOT, ingest

INSERT_DAY = (
    "INSERT INTO ingest_days (day, run_id, source, packages, rows, downloads_with_mirrors)"
    " VALUES ($1, 'old', 'synthetic', 1, 1, 1)"
)


def yesterday() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def pass_env(service_env: dict[str, str]) -> dict[str, str]:
    # a window of four days (yesterday and the three before), yesterday and the day before resettled
    return {**service_env, "SYNTHETIC_PACKAGES": "15", "RETENTION_DAYS": "3", "INGEST_RESETTLE_DAYS": "1"}


async def test_pass_publishes_exactly_the_planned_days_and_releases_the_lock(
    service_env: dict[str, str], js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool, redis: Redis,
    namespace: str,
) -> None:  # fmt: skip
    last = yesterday()
    day = [last - dt.timedelta(days=k) for k in range(4)]
    for complete in (day[1], day[3]):  # day[1] is complete but inside the resettle span: redone
        await db.execute(INSERT_DAY, complete)
    code, out, err = await ingest(pass_env(service_env), "pass")
    assert code == 0, err[-2000:]
    assert "days: 100%" in err  # the progress bar over the planned days
    planned = [d.isoformat() for d in (day[0], day[1], day[2])]
    assert json.loads(out) == {"planned": planned, "done": planned, "failed": []}
    contents = await read_stream(js, subjects)
    assert [m.day.isoformat() for m in contents.manifests] == planned
    assert len(contents.package_days) == 3 * 15
    assert await redis.get(f"{namespace}:ingest:lock") is None


async def test_pass_exits_non_zero_when_a_day_fails(
    service_env: dict[str, str], js: JetStreamContext, subjects: Subjects, db: asyncpg.Pool, tmp_path: Path
) -> None:
    broken = tmp_path / "downloads.jsonl"
    broken.write_text("this is not JSON\n")
    env = {**pass_env(service_env), "RETENTION_DAYS": "1", "RAW_PATH": str(broken)}
    code, out, err = await ingest(env, "pass", "--source", "raw", "--no-progress")
    assert code == 1, err[-2000:]
    assert "ingest of a day failed" in err
    report = json.loads(out)
    assert report["done"] == [] and report["failed"] == report["planned"] != []
    assert await stream_message_count(js, subjects) == 0


async def test_a_pass_refuses_while_another_holds_the_lock_or_waits_for_it(
    service_env: dict[str, str], js: JetStreamContext, subjects: Subjects, redis: Redis, namespace: str,
    db: asyncpg.Pool,
) -> None:  # fmt: skip
    env = pass_env(service_env)
    other = RedisLock(redis, f"{namespace}:ingest:lock", 60)  # another pass, running
    assert await other.acquire()

    code, out, err = await ingest(env, "pass", "--no-progress")
    assert code == 3, err[-2000:]
    assert "another pass holds the ingest lock" in json.loads(out)["skipped"]
    assert await stream_message_count(js, subjects) == 0
    assert await redis.get(f"{namespace}:ingest:lock") == other.token.encode()  # untouched

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.ingest", "pass", "--lock-wait", "60", "--no-progress",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        while True:  # until the second pass says it is waiting (each log line is one JSON object)
            line = await asyncio.wait_for(proc.stderr.readline(), 30)
            assert line, "the pass ended without waiting for the lock"
            if b"waiting for it" in line:
                break
        assert await stream_message_count(js, subjects) == 0  # it waits: nothing published yet
        assert await other.release()
        out_b, err_b = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err_b.decode()[-2000:]
    assert json.loads(out_b)["failed"] == []
    contents = await read_stream(js, subjects)
    assert len(contents.manifests) == 4  # an empty ingest_days: the whole window of four days
