"""The durable pull consumer: fetch a batch, apply it, ack only what is committed.

Owns the message lifecycle. :class:`Processor` applies decoded messages (shared with replay);
:class:`Consumer` runs the fetch loop on the durable consumer that every aggregator replica shares.

Per fetched batch: rejected messages are published to the dead-letter subject and then acked;
all package-days are written in one transaction and acked after it commits (on a database error
they are nak'ed with a delay and come back); each manifest either completes its day (acked after
the commit, the cache bump and ``rollups.updated``), or, when its run is not fully committed
yet, is nak'ed with a delay so it is retried later while other messages keep flowing.

Why redelivery is harmless: applying a package-day replaces it (store.py), completing a day is a
recomputation from committed rows (complete.py), and dead letters carry a message id derived
from the stream sequence, so each handler can run any number of times with the same end state.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Final

import asyncpg
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from redis.asyncio import Redis

from services.aggregator.complete import Completion, Outcome, complete_day, flush_recent
from services.aggregator.config import AggregatorSettings
from services.aggregator.handlers import Incoming, Rejected, split
from services.aggregator.metrics import AggregatorMetrics
from services.aggregator.retention import analyze, apply_retention
from services.aggregator.store import Store, Written
from shared.cache import CacheKeys, bump_after_commit
from shared.events import DayManifest, PackageDay, RollupsUpdated, Subjects
from shared.logging import get_logger

log = get_logger(__name__)

MAX_BACKOFF_S: Final = 5.0


def durable_name(namespace: str, consumer: str) -> str:
    """The shared durable consumer name; includes the namespace so stacks never share it."""
    return f"{namespace}-{consumer}" if namespace else consumer


class Processor:
    """Applies decoded messages to PostgreSQL and announces completed days."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        js: JetStreamContext,
        subjects: Subjects,
        settings: AggregatorSettings,
        metrics: AggregatorMetrics,
    ) -> None:
        self.pool, self.redis, self.js, self.subjects = pool, redis, js, subjects
        self.settings, self.metrics = settings, metrics
        self.store = Store(pool, settings.retention_days)
        self.keys = CacheKeys(settings.redis_prefix)
        #: A deferred recent rebuild may be owed: True at start (a crash may have left one in the
        #: database), and after every deferral; cleared by :meth:`flush_recent`.
        self.recent_owed = True
        self.deferred_since: float | None = None

    async def write(self, items: list[tuple[PackageDay, int]]) -> Written:
        try:
            # A connection killed in the middle of a COPY can leave asyncpg waiting for ever; by
            # ack_wait the messages are redelivered anyway, so give up then and let them come back.
            written = await asyncio.wait_for(self.store.apply(items), self.settings.ack_wait)
        except Exception:
            self.store.forget_partitions()
            raise
        self.metrics.messages.labels("package_day").inc(written.applied)
        self.metrics.messages.labels("stale").inc(written.stale)
        self.metrics.messages.labels("expired").inc(written.expired)
        self.metrics.rows_written.inc(written.rows)
        return written

    async def finish_day(self, manifest: DayManifest, seq: int, *, defer_recent: bool = False) -> Completion:
        """Complete the manifest's day; after the commit: retention, statistics, cache, event.

        ``defer_recent``: leave the recent totals to :meth:`flush_recent` (complete.py explains why
        that is safe); the consumer asks for it while more messages are waiting.
        """
        defer = defer_recent and self.settings.recent_max_delay > 0
        done = await asyncio.wait_for(
            complete_day(self.pool, manifest, seq, self.settings.retention_days, defer_recent=defer),
            self.settings.ack_wait,
        )
        if done.outcome is Outcome.INCOMPLETE:
            self.metrics.messages.labels("manifest_retry").inc()
            return done
        self.metrics.messages.labels("manifest").inc()
        if done.outcome is not Outcome.COMPLETED or done.anchor is None:
            log.info(
                "manifest skipped", day=str(manifest.day), run_id=manifest.run_id, outcome=done.outcome.value
            )
            return done
        kept = await apply_retention(
            self.pool, done.anchor, self.settings.retention_days, self.settings.partitions_ahead
        )
        if kept.dropped:
            self.store.forget_partitions()
        if done.recent_deferred:
            self.metrics.recent_deferred.inc()
            self.recent_owed = True
            if self.deferred_since is None:
                self.deferred_since = time.monotonic()
        await analyze(self.pool, manifest.day, rollups=not done.recent_deferred)
        version = await bump_after_commit(self.redis, self.keys, self.pool)
        event = RollupsUpdated(day=manifest.day, run_id=manifest.run_id, packages=manifest.packages)
        await self.js.publish(
            self.subjects.rollups(manifest.day),
            event.to_bytes(),
            headers={"Nats-Msg-Id": f"{manifest.day.isoformat()}/rollups/{manifest.run_id}/{seq}"},
        )
        self.metrics.set_last_complete_day(done.anchor)
        log.info(
            "day complete",
            day=str(manifest.day),
            run_id=manifest.run_id,
            packages=done.committed,
            removed=done.removed,
            anchor=str(done.anchor),
            cutoff=str(kept.cutoff),
            partitions_dropped=kept.dropped,
            recent_deferred=done.recent_deferred,
            cache_version=version,
        )
        return done

    def flush_due(self, pending: int) -> bool:
        """A deferred rebuild is due when nothing more is waiting or it waited ``recent_max_delay``."""
        if not self.recent_owed:
            return False
        if pending == 0 or self.deferred_since is None:
            return True
        return time.monotonic() - self.deferred_since >= self.settings.recent_max_delay

    async def flush_recent(self) -> dt.date | None:
        """Do a deferred recent rebuild (if the database says one is owed); then statistics and cache."""
        anchor = await asyncio.wait_for(flush_recent(self.pool), self.settings.ack_wait)
        self.recent_owed, self.deferred_since = False, None
        if anchor is None:
            return None
        await analyze(self.pool, None, rollups=True)
        version = await bump_after_commit(self.redis, self.keys, self.pool)
        log.info("recent totals rebuilt", anchor=str(anchor), cache_version=version)
        return anchor

    async def flush_if_due(self, pending: int) -> bool:
        """Flush when due; False when the database failed (the rebuild stays owed)."""
        if not self.flush_due(pending):
            return True
        try:
            await self.flush_recent()
        except Exception as exc:
            log.warning("recent rebuild failed", error=type(exc).__name__, detail=str(exc)[:300])
            return False
        return True

    async def dead_letter(self, rejected: Rejected) -> None:
        letter = rejected.dead_letter(dt.datetime.now(dt.UTC))
        await self.js.publish(
            self.subjects.dead, letter.to_bytes(), headers={"Nats-Msg-Id": f"dead/{rejected.incoming.seq}"}
        )
        self.metrics.dead_letters.labels(rejected.reason).inc()
        self.metrics.messages.labels("dead_letter").inc()
        log.warning(
            "dead letter",
            subject=rejected.incoming.subject,
            reason=rejected.reason,
            seq=rejected.incoming.seq,
        )


class Consumer:
    """The fetch loop on the shared durable pull consumer."""

    def __init__(self, processor: Processor) -> None:
        self.processor = processor
        self.settings = processor.settings
        self.js = processor.js
        self.subjects = processor.subjects
        self.metrics = processor.metrics
        self.name = durable_name(self.subjects.namespace, self.settings.consumer_name)
        self._sub: JetStreamContext.PullSubscription | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._write_failed = False

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.settings.ack_wait,
            max_ack_pending=self.settings.max_ack_pending,
            max_deliver=-1,
            max_waiting=512,
        )

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        """Create the durable consumer unless a replica did, then bind to it."""
        stream = self.subjects.downloads_stream
        try:
            await self.js.consumer_info(stream, self.name)
        except NotFoundError:
            try:
                await self.js.add_consumer(stream, self.consumer_config())
            except Exception:  # a replica created it first; binding below tells if it really exists
                log.info("consumer creation raced", consumer=self.name)
        return await self.js.pull_subscribe_bind(durable=self.name, stream=stream)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and apply until ``stop`` is set; NATS or database outages are waited out."""
        try:
            await self._loop(stop)
        finally:
            await self.drain()
            await self._unsubscribe()

    async def _unsubscribe(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception as exc:  # the connection may be gone already
                log.info("unsubscribe failed", error=type(exc).__name__)

    async def _loop(self, stop: asyncio.Event) -> None:
        backoff = 0.0
        asked = time.monotonic()
        while not stop.is_set():
            try:
                if self._sub is None:
                    self._sub = await self.subscribe()
                    log.info("consuming", consumer=self.name, stream=self.subjects.downloads_stream)
                asked = time.monotonic()
                msgs = await self._sub.fetch(self.settings.batch_size, timeout=self.settings.fetch_timeout)
            except TimeoutError:
                # An idle stream times out after fetch_timeout; a disconnected client fails at once:
                # never spin on the latter.
                if time.monotonic() - asked < self.settings.fetch_timeout / 2:
                    backoff = min(MAX_BACKOFF_S, backoff * 2 or 0.1)
                    await _sleep_or_stop(stop, backoff)
                else:
                    self.metrics.pending.set(0)
                    await self.processor.flush_if_due(0)
                if not await self.drain():
                    await _sleep_or_stop(stop, self.settings.error_retry_delay)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                backoff = min(MAX_BACKOFF_S, backoff * 2 or 0.1)
                log.warning("fetch failed", error=type(exc).__name__, detail=str(exc)[:200], retry_in=backoff)
                if isinstance(exc, NotFoundError):
                    await self._unsubscribe()
                await _sleep_or_stop(stop, backoff)
                continue
            if not msgs:
                await _sleep_or_stop(stop, 0.1)
                continue
            try:
                ok = await self.handle(msgs)
            except Exception:  # unacked messages come back after ack_wait; keep consuming
                log.exception("batch handling failed")
                ok = False
            backoff = 0.0 if ok else min(MAX_BACKOFF_S, backoff * 2 or 0.2)
            if backoff:
                await _sleep_or_stop(stop, backoff)

    async def handle(self, msgs: list[Msg]) -> bool:
        """Apply one fetch; returns False when the database failed (the caller backs off)."""
        started = time.perf_counter()
        by_seq: dict[int, Msg] = {}
        incoming: list[Incoming] = []
        for msg in msgs:
            meta = msg.metadata
            by_seq[meta.sequence.stream] = msg
            incoming.append(Incoming(msg.subject, msg.data, meta.sequence.stream))
        self.metrics.pending.set(msgs[-1].metadata.num_pending or 0)
        batch = split(incoming, self.subjects)
        ok = True
        for rejected in batch.rejected:
            msg = by_seq[rejected.incoming.seq]
            try:
                await self.processor.dead_letter(rejected)
            except Exception as exc:
                log.warning("dead letter publish failed", error=type(exc).__name__)
                await _nak(msg, self.settings.error_retry_delay)
                continue
            await _ack(msg)
        if batch.package_days:
            await self._free_slot()
            task = asyncio.create_task(self._write(batch.package_days, by_seq, started))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        if batch.manifests:
            ok = await self.drain() and ok
        last = batch.manifests[-1][1].seq if batch.manifests else None
        for manifest, inc in batch.manifests:
            msg = by_seq[inc.seq]
            more = inc.seq != last or bool(msg.metadata.num_pending)
            try:
                done = await self.processor.finish_day(manifest, inc.seq, defer_recent=more)
            except Exception as exc:
                ok = False
                log.warning(
                    "manifest failed", day=str(manifest.day), error=type(exc).__name__, detail=str(exc)[:300]
                )
                await _nak(msg, self.settings.error_retry_delay)
                continue
            if (
                done.outcome is Outcome.INCOMPLETE
                and msg.metadata.num_delivered >= self.settings.manifest_max_attempts
            ):
                await self._give_up(manifest, inc, done.committed, msg)
            elif done.outcome is Outcome.INCOMPLETE:
                log.info(
                    "manifest waits", day=str(manifest.day), run_id=manifest.run_id,
                    committed=done.committed, packages=manifest.packages,
                )  # fmt: skip
                await _nak(msg, self.settings.manifest_retry_delay)
            else:
                await _ack(msg)
        if batch.manifests:
            ok = await self.processor.flush_if_due(msgs[-1].metadata.num_pending or 0) and ok
        if not batch.package_days:
            self.metrics.batch_duration.observe(time.perf_counter() - started)
        failed, self._write_failed = self._write_failed, False  # a write that failed since the last look
        return ok and not failed

    async def _give_up(self, manifest: DayManifest, inc: Incoming, committed: int, msg: Msg) -> None:
        """A run that never completes (its package-days were lost or dead-lettered) must not loop for ever."""
        detail = f"run {manifest.run_id} has {committed} of {manifest.packages} package-days committed"
        try:
            await self.processor.dead_letter(Rejected(inc, "incomplete_run", detail))
        except Exception as exc:
            log.warning("dead letter publish failed", error=type(exc).__name__)
            await _nak(msg, self.settings.error_retry_delay)
            return
        await _ack(msg)

    async def _free_slot(self) -> None:
        """Wait until fewer than ``write_concurrency`` batch writes are in flight."""
        while len(self._inflight) >= self.settings.write_concurrency:
            await asyncio.wait(set(self._inflight), return_when=asyncio.FIRST_COMPLETED)

    async def drain(self) -> bool:
        """Wait for every in-flight batch write; False when one of them failed."""
        if self._inflight:
            await asyncio.wait(set(self._inflight))
        failed, self._write_failed = self._write_failed, False
        return not failed

    async def _write(
        self, items: list[tuple[PackageDay, Incoming]], by_seq: dict[int, Msg], started: float
    ) -> None:
        """One batch transaction; its messages are acked after the commit, nak'ed on failure."""
        msgs = [by_seq[inc.seq] for _, inc in items]
        try:
            await self.processor.write([(event, inc.seq) for event, inc in items])
        except Exception as exc:
            self._write_failed = True
            log.warning("batch write failed", error=type(exc).__name__, detail=str(exc)[:300])
            for msg in msgs:
                await _nak(msg, self.settings.error_retry_delay)
        else:
            for msg in msgs:
                await _ack(msg)
        self.metrics.batch_duration.observe(time.perf_counter() - started)


async def _ack(msg: Msg) -> None:
    try:
        await msg.ack()
    except Exception as exc:  # lost acks mean redelivery, which is idempotent
        log.warning("ack failed", error=type(exc).__name__)


async def _nak(msg: Msg, delay: float) -> None:
    try:
        await msg.nak(delay=delay)
    except Exception as exc:  # without the nak the message comes back after ack_wait
        log.warning("nak failed", error=type(exc).__name__)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
