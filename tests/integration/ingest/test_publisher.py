"""The publisher against a real nats-server: contents, dedup, retries, interruption, validation."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.js import JetStreamContext

from services.ingest import publisher
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import publish_day, publish_with_retry
from services.ingest.sources.base import RawCounts
from services.ingest.sources.synthetic import SyntheticSource
from shared.events import Counts, PackageDay, Subjects
from tests.integration.ingest.streams import read_stream, stream_message_count
from tests.support.wait import wait_until

DAY = dt.date(2024, 3, 4)


class ListSource:
    """A hand-written day, for validation and merging cases."""

    name = "test"

    def __init__(self, items: list[tuple[str, RawCounts]]) -> None:
        self.items = items

    async def iter_day(self, day: dt.date) -> AsyncIterator[tuple[str, RawCounts]]:
        for item in self.items:
            yield item


class StallingSource:
    """Yields the first ``after`` package-days of ``inner`` and then hangs, like a stuck query."""

    name = "synthetic"

    def __init__(self, inner: SyntheticSource, after: int) -> None:
        self.inner, self.after = inner, after

    async def iter_day(self, day: dt.date) -> AsyncIterator[tuple[str, RawCounts]]:
        k = 0
        async for item in self.inner.iter_day(day):
            if k == self.after:
                await asyncio.Event().wait()
            k += 1
            yield item


async def test_publishes_every_package_day_then_the_manifest(
    js: JetStreamContext, subjects: Subjects
) -> None:
    source = SyntheticSource(400, seed=3)
    metrics = IngestMetrics()
    seen: list[int] = []
    result = await publish_day(
        js, subjects, source, DAY, max_in_flight=64, progress=seen.append, metrics=metrics
    )

    contents = await read_stream(js, subjects)
    expected = set(source.expected_rows(DAY))
    assert result.packages == len(contents.package_days) == 400 == sum(seen)
    assert contents.rows(result.run_id) == expected
    assert result.rows == len(expected)
    assert result.skipped == 0
    # the manifest is the last message and describes exactly what came before it
    [manifest] = contents.manifests
    assert contents.msg_ids[-1] == manifest.msg_id
    assert (manifest.run_id, manifest.packages, manifest.rows) == (result.run_id, 400, len(expected))
    assert manifest.downloads_with_mirrors == source.expected_totals(DAY)["with_mirrors"]
    assert manifest.source == "synthetic"
    assert contents.msg_ids[:-1] == [e.msg_id for e in contents.package_days]
    assert all(e.day == DAY and e.source == "synthetic" for e in contents.package_days)
    assert metrics.published._value.get() == 400
    assert metrics.rows_read._value.get() == 400


async def test_a_retried_publish_is_stored_once(js: JetStreamContext, subjects: Subjects) -> None:
    event = PackageDay(
        day=DAY, package="requests", counts=Counts(overall={"with_mirrors": 5}), run_id="r1", source="t"
    )
    first = await publish_with_retry(js, subjects.daily(DAY), event.to_bytes(), event.msg_id)
    second = await publish_with_retry(js, subjects.daily(DAY), event.to_bytes(), event.msg_id)
    assert not first.duplicate and second.duplicate
    assert first.seq == second.seq
    assert await stream_message_count(js, subjects) == 1


async def test_a_whole_run_sent_twice_with_one_run_id_is_stored_once(
    js: JetStreamContext, subjects: Subjects
) -> None:
    source = SyntheticSource(150, seed=1)
    one = await publish_day(js, subjects, source, DAY, run_id="same")
    two = await publish_day(js, subjects, source, DAY, run_id="same")
    assert one.duplicates == 0 and two.duplicates == 150
    assert await stream_message_count(js, subjects) == 151


class LossyJetStream:
    """The real JetStream context, except that some first attempts lose the message or its ack."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.attempts: dict[str, int] = {}

    async def publish_async(
        self, subject: str, payload: bytes, headers: dict[str, str]
    ) -> asyncio.Future[Any]:
        msg_id = headers["Nats-Msg-Id"]
        self.attempts[msg_id] = self.attempts.get(msg_id, 0) + 1
        never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        n = len(self.attempts)
        if self.attempts[msg_id] == 1 and n % 7 == 0:
            return never  # the message is lost on the way
        if self.attempts[msg_id] == 1 and n % 7 == 3:
            await self.js.publish_async(subject, payload, headers=headers)
            return never  # stored, but the ack is lost
        return await self.js.publish_async(subject, payload, headers=headers)

    async def publish(self, subject: str, payload: bytes, timeout: float, headers: dict[str, str]) -> Any:
        msg_id = headers["Nats-Msg-Id"]
        self.attempts[msg_id] = self.attempts.get(msg_id, 0) + 1
        return await self.js.publish(subject, payload, timeout=timeout, headers=headers)


async def test_lost_messages_and_lost_acks_are_resent_and_stored_once(
    js: JetStreamContext, subjects: Subjects, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publisher, "ACK_TIMEOUT_S", 0.3)
    source = SyntheticSource(200, seed=2)
    lossy = LossyJetStream(js)
    result = await publish_day(lossy, subjects, source, DAY, max_in_flight=50)  # type: ignore[arg-type]
    contents = await read_stream(js, subjects)
    assert result.resent == sum(1 for n in lossy.attempts.values() if n > 1) > 40
    assert result.duplicates > 0  # the lost acks: stored the first time, deduplicated the second
    assert len(contents.package_days) == 200
    assert len(set(contents.msg_ids)) == len(contents.msg_ids) == 201
    assert contents.rows(result.run_id) == set(source.expected_rows(DAY))


async def test_a_run_killed_half_way_and_run_again_leaves_every_package_day(
    js: JetStreamContext, subjects: Subjects
) -> None:
    source = SyntheticSource(1200, seed=4)
    task = asyncio.create_task(publish_day(js, subjects, StallingSource(source, 500), DAY, run_id="killed"))

    async def half_way() -> bool:
        return await stream_message_count(js, subjects) >= 499

    await wait_until(half_way, timeout=30, what="499 package-days in the stream")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    interrupted = await stream_message_count(js, subjects)
    assert interrupted == 499  # the 500th was still being merged; no manifest

    again = await publish_day(js, subjects, source, DAY)
    contents = await read_stream(js, subjects)
    assert [m.run_id for m in contents.manifests] == [again.run_id]
    assert contents.rows(again.run_id) == set(source.expected_rows(DAY))
    assert len(contents.by_run(again.run_id)) == 1200
    assert len(contents.by_run("killed")) == interrupted


async def test_invalid_package_days_are_counted_logged_and_skipped(
    js: JetStreamContext, subjects: Subjects
) -> None:
    good = {"overall": {"with_mirrors": 3, "without_mirrors": 2}, "system": {"Linux": 2}}
    source = ListSource(
        [
            ("Good_Pkg", good),
            ("good.pkg", {"overall": {"with_mirrors": 1, "without_mirrors": 1}, "system": {"Linux": 1}}),
            ("bad name!", good),
            ("", good),
            (None, good),  # a NULL project
            ("x" * 300, good),
            ("negative", {"overall": {"with_mirrors": -1}}),
            ("unknown-os", {"system": {"Plan9": 4}}),
            ("unknown-dim", {"cpu": {"x86_64": 4}}),
            ("float-count", {"overall": {"with_mirrors": 1.5}}),  # type: ignore[dict-item]
            ("all-zero", {"overall": {"with_mirrors": 0}}),
            ("other", {"python_minor": {"3.12": 7}, "overall": {"with_mirrors": 7, "without_mirrors": 7}}),
            ("GOOD-pkg", good),  # same package again after another one: cannot be merged any more
        ]
    )
    metrics = IngestMetrics()
    result = await publish_day(js, subjects, source, DAY, metrics=metrics)

    contents = await read_stream(js, subjects)
    assert sorted(e.package for e in contents.package_days) == ["good-pkg", "other"]
    [merged] = [e for e in contents.package_days if e.package == "good-pkg"]
    assert merged.counts.overall == {"with_mirrors": 4, "without_mirrors": 3}
    assert merged.counts.system == {"Linux": 3}
    assert result.packages == 2 and result.rows == 3 + 3
    assert result.skipped_by_reason == {
        "bad_name": 4,
        "negative_count": 1,
        "unknown_category": 2,
        "bad_count": 1,
        "duplicate": 1,
    }
    assert result.skipped == 9
    assert metrics.skipped.labels("bad_name")._value.get() == 4
    assert contents.manifests[0].packages == 2
