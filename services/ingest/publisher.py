"""Publishing one day from a source to JetStream: package-days, then the day manifest.

Owns the producer side of contracts.md section 3. Every valid package-day becomes one
``PackageDay`` on ``downloads.daily.v1.<day>`` with ``Nats-Msg-Id: <day>/<package>/<run_id>``;
after every one of them is acknowledged by the stream, the ``DayManifest`` goes to
``downloads.manifest.v1.<day>`` through its FastStream publisher (channels.py). Package-day
publishes are pipelined on the broker's JetStream context (up to ``max_in_flight`` unacknowledged
at once, through ``publish_async`` futures), and a publish that times out or fails on a disconnect
is sent again with backoff under the same message id, so the stream's duplicate window stores it
once. An interrupted run can simply be run again: the new run id gives a fresh set of messages and
the aggregator replaces each package-day, so nothing is counted twice.

Validation happens here, before anything is sent: a package-day with a bad name, a negative or
non-integer count, an unknown dimension or category, or too many categories is counted (metric
label ``reason``), logged and skipped, never published. Consecutive spellings of one normalised
package (``Foo_Bar`` then ``foo.bar``) are merged into one package-day; a package that comes back
after another package was in between cannot be merged any more and is skipped as ``duplicate``
(the SQL sources group by the normalised name, so only a faulty source does that).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.errors import ConnectionClosedError, OutboundBufferLimitError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError, NoStreamResponseError

from shared.events import MAX_EVENT_BYTES, DayManifest
from shared.jsretry import DEFAULT_BOUND_S, JetStreamUnavailable, Retry
from shared.logging import get_logger
from shared.packages import InvalidPackageName, validate

from .channels import Outlet
from .metrics import IngestMetrics
from .sources.base import RawCounts, Source
from .validation import (
    EncodedPackageDay,
    InvalidPackageDay,
    check_run_fields,
    encode_package_day,
    merge_counts,
)

log = get_logger(__name__)

DEFAULT_MAX_IN_FLIGHT = 1024
ACK_TIMEOUT_S = 10.0
#: Backoff between attempts of one message: 0.1 s doubling up to 5 s.
BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 5.0
#: How long one message may keep failing before the run gives up (NATS_RETRY_SECONDS's default;
#: an election takes seconds, a NATS restart a little more).
RETRY_DEADLINE_S = DEFAULT_BOUND_S

Progress = Callable[[int], object]

#: Errors after which the same message is sent again (never a validation error).
RETRYABLE: tuple[type[Exception], ...] = (
    asyncio.TimeoutError,
    NatsTimeoutError,
    NoStreamResponseError,
    ConnectionClosedError,
    OutboundBufferLimitError,
    ConnectionError,
)

RETRYABLE_OR_API: tuple[type[Exception], ...] = (*RETRYABLE, APIError)


class PublishError(JetStreamUnavailable):
    """A message could not be stored within the retry deadline."""


@dataclass
class RunResult:
    run_id: str
    day: dt.date
    source: str
    packages: int = 0
    rows: int = 0
    skipped: int = 0
    downloads_with_mirrors: int = 0
    retries: int = 0
    resent: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    #: The stream sequence of the run's manifest (0 until it is stored).
    manifest_seq: int = 0


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class _Pending:
    subject: str
    payload: bytes
    msg_id: str
    future: asyncio.Future[PubAck] | None
    sent_at: float


class _Pipeline:
    """A window of unacknowledged publishes; the oldest is awaited when the window is full."""

    def __init__(
        self,
        js: JetStreamContext,
        max_in_flight: int,
        metrics: IngestMetrics | None,
        result: RunResult,
        retry_s: float = RETRY_DEADLINE_S,
    ) -> None:
        self.js = js
        self.retry_s = retry_s
        self.max_in_flight = max(1, max_in_flight)
        self.metrics = metrics
        self.result = result
        self.window: deque[_Pending] = deque()

    async def send(self, subject: str, payload: bytes, msg_id: str) -> None:
        while len(self.window) >= self.max_in_flight:
            await self._settle(self.window.popleft())
        started = time.perf_counter()
        try:
            future = await self.js.publish_async(subject, payload, headers={"Nats-Msg-Id": msg_id})
        except RETRYABLE as exc:
            log.warning("publish failed, retrying", msg_id=msg_id, error=type(exc).__name__)
            self.result.resent += 1
            future = None
        self.window.append(_Pending(subject, payload, msg_id, future, started))

    async def drain(self) -> None:
        while self.window:
            await self._settle(self.window.popleft())

    def cancel(self) -> None:
        for pending in self.window:
            if pending.future is not None and not pending.future.done():
                pending.future.cancel()
        self.window.clear()

    async def _settle(self, pending: _Pending) -> None:
        future = pending.future
        if future is not None and future.done() and not future.cancelled() and future.exception() is None:
            self._acked(future.result(), pending.sent_at)  # the usual case: acked while others were sent
            return
        if pending.future is not None:
            remaining = ACK_TIMEOUT_S - (time.perf_counter() - pending.sent_at)
            try:
                ack = await asyncio.wait_for(pending.future, max(remaining, 0.001))
            except RETRYABLE_OR_API as exc:
                log.warning(
                    "publish not acknowledged, retrying", msg_id=pending.msg_id, error=type(exc).__name__
                )
                self.result.resent += 1
            else:
                self._acked(ack, pending.sent_at)
                return
        ack = await publish_with_retry(
            self.js, pending.subject, pending.payload, pending.msg_id, self.result, deadline_s=self.retry_s
        )
        self._acked(ack, pending.sent_at)

    def _acked(self, ack: PubAck, sent_at: float) -> None:
        if ack.duplicate:
            self.result.duplicates += 1
        if self.metrics is not None:
            self.metrics.publish_latency.observe(time.perf_counter() - sent_at)


async def publish_with_retry(
    js: JetStreamContext,
    subject: str,
    payload: bytes,
    msg_id: str,
    result: RunResult | None = None,
    *,
    deadline_s: float = RETRY_DEADLINE_S,
    timeout_s: float = ACK_TIMEOUT_S,
) -> PubAck:
    """Publish and wait for the ack, retrying with backoff under the same ``Nats-Msg-Id``."""

    def send() -> Awaitable[PubAck]:
        return js.publish(subject, payload, timeout=timeout_s, headers={"Nats-Msg-Id": msg_id})

    return await retrying(send, msg_id, result, deadline_s=deadline_s)


async def retrying(
    send: Callable[[], Awaitable[PubAck]],
    msg_id: str,
    result: RunResult | None = None,
    *,
    deadline_s: float = RETRY_DEADLINE_S,
) -> PubAck:
    """``send()`` until the stream acknowledges it, with backoff (shared.jsretry); every attempt
    carries ``msg_id``, so attempts that reached the stream before an ack was lost are stored once.
    A refusal of the message itself (a 4xx: too large, wrong subject) is raised at once."""

    def counted(_exc: BaseException) -> None:
        if result is not None:
            result.retries += 1

    retry = Retry(bound_s=deadline_s, first_s=BACKOFF_START_S, max_s=BACKOFF_MAX_S)
    try:
        return await retry.call(send, f"publish {msg_id}", on_retry=counted)
    except JetStreamUnavailable as exc:
        raise PublishError(str(exc)) from exc


async def package_days(
    source: Source, day: dt.date, result: RunResult, metrics: IngestMetrics | None = None
) -> AsyncIterator[EncodedPackageDay]:
    """The valid package-days of ``day`` with their encoded bodies; invalid ones are counted and skipped."""
    seen: set[str] = set()
    current: tuple[str, RawCounts] | None = None  # the package being merged, not yet emitted
    current_owned = False

    def finish(package: str, counts: RawCounts) -> EncodedPackageDay | None:
        try:
            event = encode_package_day(day, package, counts, result.run_id, source.name)
            if len(event.payload) > MAX_EVENT_BYTES:
                raise InvalidPackageDay("too_large", f"{len(event.payload)} bytes")
        except InvalidPackageDay as exc:
            _skip(result, metrics, exc.reason, package=package, detail=str(exc))
            return None
        result.packages += 1
        result.rows += event.rows
        result.downloads_with_mirrors += event.downloads_with_mirrors
        return event

    async for raw, counts in source.iter_day(day):
        if metrics is not None:
            metrics.rows_read.inc()
        try:
            if not isinstance(raw, str):  # e.g. a NULL project in the source: never the name "None"
                raise InvalidPackageName(f"package name is {type(raw).__name__}, not a string")
            package = validate(raw)
        except InvalidPackageName as exc:
            _skip(result, metrics, "bad_name", package=str(raw)[:80], detail=str(exc))
            continue
        if not isinstance(counts, dict) or not all(isinstance(v, dict) for v in counts.values()):
            _skip(
                result,
                metrics,
                "invalid",
                package=package,
                detail="counts are not {dimension: {category: n}}",
            )
            continue
        if current is not None and current[0] == package:
            if not current_owned:  # copy on the first merge only: the source may reuse its dicts
                current = (package, {d: dict(v) for d, v in current[1].items()})
                current_owned = True
            merge_counts(current[1], counts)
            continue
        if package in seen:
            _skip(result, metrics, "duplicate", package=package, detail="package came back after others")
            continue
        seen.add(package)
        if current is not None and (done := finish(*current)) is not None:
            yield done
        current, current_owned = (package, counts), False
    if current is not None and (done := finish(*current)) is not None:
        yield done


async def publish_day(
    outlet: Outlet,
    source: Source,
    day: dt.date,
    *,
    run_id: str | None = None,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    progress: Progress | None = None,
    metrics: IngestMetrics | None = None,
    retry_s: float = RETRY_DEADLINE_S,
) -> RunResult:
    """Publish every package-day of ``day`` from ``source``, then the day's manifest; each message
    is retried for up to ``retry_s`` seconds (NATS_RETRY_SECONDS) before the run fails."""
    started = time.perf_counter()
    result = RunResult(run_id=run_id or new_run_id(), day=day, source=source.name)
    check_run_fields(result.run_id, source.name)
    subjects = outlet.subjects
    subject = subjects.daily(day)
    pipeline = _Pipeline(outlet.js, max_in_flight, metrics, result, retry_s)
    log.info("ingest run started", day=day.isoformat(), run_id=result.run_id, source=source.name)
    try:
        async for event in package_days(source, day, result, metrics):
            await pipeline.send(subject, event.payload, event.msg_id)
            if metrics is not None:
                metrics.published.inc()
            if progress is not None:
                progress(1)
        await pipeline.drain()
        manifest = DayManifest(
            day=day,
            run_id=result.run_id,
            packages=result.packages,
            rows=result.rows,
            downloads_with_mirrors=result.downloads_with_mirrors,
            source=source.name,
        )
        result.manifest_seq = (await publish_manifest(outlet, manifest, result, deadline_s=retry_s)).seq
    finally:
        pipeline.cancel()
        result.seconds = time.perf_counter() - started
    log.info(
        "ingest run published",
        day=day.isoformat(),
        run_id=result.run_id,
        packages=result.packages,
        rows=result.rows,
        skipped=result.skipped,
        retries=result.retries,
        seconds=round(result.seconds, 3),
    )
    return result


async def publish_manifest(
    outlet: Outlet,
    manifest: DayManifest,
    result: RunResult | None = None,
    *,
    deadline_s: float = RETRY_DEADLINE_S,
) -> PubAck:
    """The manifest through its FastStream publisher, retried under its message id until stored."""

    async def send() -> PubAck:
        ack: PubAck = await outlet.manifest.publish(
            manifest,
            outlet.subjects.manifest(manifest.day),
            headers={"Nats-Msg-Id": manifest.msg_id},
            stream=outlet.subjects.downloads_stream,
            timeout=ACK_TIMEOUT_S,
        )
        return ack

    return await retrying(send, manifest.msg_id, result, deadline_s=deadline_s)


async def inspect_day(
    source: Source, day: dt.date, *, progress: Progress | None = None, metrics: IngestMetrics | None = None
) -> RunResult:
    """A dry run: read and validate the day exactly as :func:`publish_day` would, publishing nothing."""
    started = time.perf_counter()
    result = RunResult(run_id="dry-run", day=day, source=source.name)
    async for _event in package_days(source, day, result, metrics):
        if progress is not None:
            progress(1)
    result.seconds = time.perf_counter() - started
    return result


def _skip(result: RunResult, metrics: IngestMetrics | None, reason: str, **fields: Any) -> None:
    if reason == "empty":  # nothing to store: not an error, not counted as skipped
        return
    result.skipped += 1
    result.skipped_by_reason[reason] = result.skipped_by_reason.get(reason, 0) + 1
    if metrics is not None:
        metrics.skipped.labels(reason).inc()
    log.warning("package-day skipped", reason=reason, **fields)
