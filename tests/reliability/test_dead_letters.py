"""Malformed, truncated, oversized and schema-violating messages between good ones."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import asyncpg
import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from shared.events import MAX_EVENT_BYTES, DeadLetter, Subjects
from shared.messaging import StreamPolicy, stream_configs
from tests.integration.aggregator.helpers import expected_all, expected_rows, make_day, manifest_for
from tests.reliability.support import AggregatorProcess, aggregators, completed, stored
from tests.support.wait import wait_until

DAY = dt.date(2024, 8, 1)
pytestmark = pytest.mark.slow


def bad_messages(subjects: Subjects, good: bytes) -> list[tuple[str, bytes, str]]:
    """(subject, payload, expected reason) of every kind of bad message."""
    daily = subjects.daily(DAY)
    body = json.loads(good)
    negative = {**body, "counts": {"overall": {"with_mirrors": -5}}}
    return [
        (daily, b"this is not json", "invalid_json"),
        (daily, good[: len(good) // 2], "invalid_json"),  # truncated
        (daily, b'{"day": "2024-08-01", "package": "\xff\xfe"}', "invalid_utf8"),
        (daily, json.dumps({**body, "pad": "x" * (MAX_EVENT_BYTES + 100)}).encode(), "oversize"),
        (daily, json.dumps({**body, "schema_version": 99}).encode(), "unknown_schema_version"),
        (daily, json.dumps(negative).encode(), "schema_violation"),
        (daily, json.dumps({**body, "package": "Not_Normalised"}).encode(), "schema_violation"),
        (subjects.daily(DAY + dt.timedelta(days=1)), good, "subject_mismatch"),
        (subjects.manifest(DAY), b'{"day": "2024-08-01"}', "schema_violation"),
    ]


async def test_bad_messages_are_dead_lettered_and_good_ones_applied(
    db: asyncpg.Pool, js: JetStreamContext, subjects: Subjects, service_env: dict[str, str], tmp_path: Path
) -> None:
    events = make_day(DAY, 300, "run-dl")
    bad = bad_messages(subjects, events[0].to_bytes())
    proc = AggregatorProcess(service_env, tmp_path, BATCH_SIZE="40")
    with aggregators(proc):
        await wait_until(proc.ready, timeout=30, what="aggregator ready")
        # An older deployment's stream may accept bigger messages than we do: allow them here.
        downloads = stream_configs(subjects, StreamPolicy(retention_days=180))[0]
        downloads.max_msg_size = 4 * MAX_EVENT_BYTES
        await js.update_stream(downloads)
        step = len(events) // len(bad)
        for i, event in enumerate(events):
            await js.publish(subjects.daily(DAY), event.to_bytes(), headers={"Nats-Msg-Id": event.msg_id})
            if i % step == 0 and i // step < len(bad):
                subject, payload, _ = bad[i // step]
                await js.publish(subject, payload)
        manifest = manifest_for(DAY, "run-dl", events)
        await js.publish(
            subjects.manifest(DAY), manifest.to_bytes(), headers={"Nats-Msg-Id": manifest.msg_id}
        )
        await wait_until(lambda: completed(db, DAY, "run-dl"), timeout=30, what="the day to complete")
        counted = {
            reason: await proc.metric(f'pypistats_aggregator_dead_letters_total{{reason="{reason}"}}')
            for reason in {r for _, _, r in bad}
        }
    assert await stored(db, DAY) == {
        (p, d, c): n for p, d, c, n in expected_rows(events) | expected_all(events)
    }
    letters = await _dead_letters(js, subjects, len(bad))
    assert sorted((dl.subject, dl.reason.split(":", 1)[0], dl.payload_bytes) for dl in letters) == sorted(
        (s, r, len(p)) for s, p, r in bad
    )
    for letter in letters:
        original = next(p for s, p, r in bad if s == letter.subject and len(p) == letter.payload_bytes)
        assert letter.payload[:10] == original[:10].decode("utf-8", errors="replace")
    want: dict[str, int] = {}
    for _, _, reason in bad:
        want[reason] = want.get(reason, 0) + 1
    assert counted == want


async def _dead_letters(js: JetStreamContext, subjects: Subjects, n: int) -> list[DeadLetter]:
    sub = await js.pull_subscribe(
        subjects.dead, stream=subjects.dead_stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    got: list[DeadLetter] = []
    while len(got) < n:
        for msg in await sub.fetch(n - len(got), timeout=5):
            got.append(DeadLetter.model_validate_json(msg.data))
            await msg.ack()
    info = await js.stream_info(subjects.dead_stream)
    assert info.state.messages == n  # nothing dead-lettered twice
    await sub.unsubscribe()
    return got
