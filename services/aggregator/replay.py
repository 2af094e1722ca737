"""``aggregator replay --start D --end D``: rebuild the rollups of retained days from the stream.

Owns re-reading the downloads stream day by day through temporary consumers (on the JetStream
context of the service's FastStream broker: a replay is a bounded drain, not a subscription): first every
package-day of the day, then every manifest of it (one filter subject each, which every
nats-server version accepts), applied with the same :class:`~services.aggregator.consumer.Processor`
as the live consumer. Applying is replacement ordered by stream sequence (store.py), so after the
first pass every package-day holds its newest run; in the second pass the manifests of older
runs are superseded and the newest completes the day (complete.py). Replaying any number of
times, or while the live consumer runs, therefore ends in the rows a fresh ingest leaves. Bad messages are counted, not dead-lettered again
(the live consumer already did). A manifest whose package-days are no longer all in the stream
is reported, not waited for. The recent totals are rebuilt once at the end, not per day (see
complete.py on deferring them).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.aggregator.complete import Outcome
from services.aggregator.consumer import Processor
from services.aggregator.handlers import decode, split
from shared.logging import get_logger

log = get_logger(__name__)

Progress = Callable[[int], object]


@dataclass
class ReplayResult:
    days: int = 0
    messages: int = 0
    package_days: int = 0
    rejected: int = 0
    completed: list[dt.date] = field(default_factory=list)
    incomplete: list[dt.date] = field(default_factory=list)


def day_filter(daily_prefix: str, day: dt.date) -> str:
    """``<ns.>downloads.*.v1.<day>`` from ``<ns.>downloads.daily.v1``: both kinds of the day."""
    head, _kind, version = daily_prefix.rsplit(".", 2)
    return f"{head}.*.{version}.{day.isoformat()}"


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


async def count_day(processor: Processor, js: JetStreamContext, day: dt.date) -> int:
    """Messages of ``day`` in the stream (for the progress bar's total)."""
    info = await processor.retry.call(
        lambda: js.stream_info(
            processor.subjects.downloads_stream,
            subjects_filter=day_filter(processor.subjects.daily_prefix, day),
        ),
        "replay count",
    )
    return sum((info.state.subjects or {}).values())


async def replay_day(
    processor: Processor, js: JetStreamContext, day: dt.date, result: ReplayResult, progress: Progress
) -> None:
    """Every package-day of ``day`` in the stream, then every manifest of it (see module doc)."""
    subjects = processor.subjects
    outcomes: list[Outcome] = []
    for subject in (subjects.daily(day), subjects.manifest(day)):
        await _drain(processor, js, subject, result, progress, outcomes)
    result.days += 1
    if Outcome.COMPLETED in outcomes:
        result.completed.append(day)
    elif Outcome.INCOMPLETE in outcomes:
        result.incomplete.append(day)


async def _drain(
    processor: Processor,
    js: JetStreamContext,
    subject: str,
    result: ReplayResult,
    progress: Progress,
    outcomes: list[Outcome],
) -> None:
    """Apply every message stored on ``subject`` now, through a temporary consumer."""
    stream = processor.subjects.downloads_stream
    config = ConsumerConfig(
        ack_policy=AckPolicy.ALL,
        deliver_policy=DeliverPolicy.ALL,
        inactive_threshold=60.0,
        max_ack_pending=-1,
    )
    retry = processor.retry  # every JetStream call rides through an election (shared.jsretry)
    sub = await retry.call(
        lambda: js.pull_subscribe(subject, stream=stream, config=config), "replay consumer"
    )
    name: str | None = None
    try:
        info = await retry.call(sub.consumer_info, "replay consumer info")
        name = info.name
        remaining = int(info.num_pending or 0)
        while remaining > 0:
            batch_size = min(processor.settings.batch_size, remaining)
            msgs = await retry.call(
                functools.partial(sub.fetch, batch_size, timeout=max(processor.settings.fetch_timeout, 5.0)),
                "replay fetch",
            )
            if not msgs:
                continue
            remaining -= len(msgs)
            now = dt.datetime.now(dt.UTC)
            batch = split([decode(m.subject, m.data, processor.subjects, now) for m in msgs])
            seqs = [m.metadata.sequence.stream for m in msgs]
            result.messages += len(msgs)
            result.rejected += len(batch.rejected)
            if batch.package_days:
                written = await processor.write([(e, seqs[i]) for e, i in batch.package_days])
                result.package_days += written.applied
            for manifest, i in batch.manifests:
                done = await processor.finish_day(manifest, seqs[i], defer_recent=True)
                outcomes.append(done.outcome)
                if done.outcome is Outcome.INCOMPLETE:
                    log.warning(
                        "manifest incomplete in the stream", day=str(manifest.day), run_id=manifest.run_id,
                        committed=done.committed, packages=manifest.packages,
                    )  # fmt: skip
            await msgs[-1].ack()
            progress(len(msgs))
    finally:
        try:
            await sub.unsubscribe()
            if name is not None:
                await js.delete_consumer(stream, name)
        except Exception:  # the temporary consumer also goes away on its own after inactivity
            log.info("temporary consumer not deleted", subject=subject)


async def replay(
    processor: Processor,
    js: JetStreamContext,
    start: dt.date,
    end: dt.date,
    progress: Progress | None = None,
) -> ReplayResult:
    """Replay every day ``start..end`` in order; ``progress(n)`` is called with messages handled."""
    result = ReplayResult()
    for day in days_between(start, end):
        await replay_day(processor, js, day, result, progress or (lambda n: None))
    await processor.flush_recent()  # once, on the last complete day (deferred per day above)
    log.info(
        "replay done", days=result.days, messages=result.messages, package_days=result.package_days,
        rejected=result.rejected, completed=len(result.completed), incomplete=len(result.incomplete),
    )  # fmt: skip
    return result
