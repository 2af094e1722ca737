"""What happens to a fetched batch: apply it, ack only what is committed.

Owns the message lifecycle behind the FastStream subscriber of channels.py (which fetches, decodes
and calls :meth:`BatchHandler.handle` with typed events and their raw messages; acks are manual).
:class:`Processor` applies decoded events (shared with replay); :class:`BatchHandler` acks, naks
and dead-letters.

Per fetched batch: rejected messages are published to the dead-letter subject and then acked;
all package-days are written in one transaction and acked after it commits (on a database error
they are nak'ed with a delay and come back), while FastStream fetches the next batch (up to
``WRITE_CONCURRENCY`` transactions in flight); each manifest either completes its day (acked after
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
from dataclasses import dataclass
from typing import Final

import asyncpg
from faststream.nats.publisher.usecase import LogicPublisher as NatsPublisher
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError
from redis.asyncio import Redis

from services.aggregator.complete import Completion, Outcome, complete_day, flush_recent
from services.aggregator.config import AggregatorSettings
from services.aggregator.exporter import Exported, Exporter
from services.aggregator.handlers import Incoming, Rejected, reason_of, split
from services.aggregator.metrics import AggregatorMetrics
from services.aggregator.retention import analyze, apply_retention
from services.aggregator.store import Store, Written
from shared.cache import CacheKeys, bump_after_commit
from shared.db.compaction import compact_due
from shared.events import DayManifest, DeadLetter, PackageDay, RollupsUpdated, Subjects
from shared.jsretry import Retry
from shared.logging import get_logger

log = get_logger(__name__)

MAX_BACKOFF_S: Final = 5.0
ANCHOR_RUN = "SELECT run_id, packages FROM ingest_days WHERE day = $1"
LAST_COMPLETE_DAY = "SELECT max(day) FROM ingest_days"
#: Seconds a JetStream publish of a dead letter or ``rollups.updated`` waits for its ack.
PUBLISH_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True)
class Outlets:
    """Where the processor publishes: the FastStream publishers declared in channels.py."""

    rollups: NatsPublisher
    dead: NatsPublisher


class Processor:
    """Applies decoded messages to PostgreSQL and announces completed days."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        outlets: Outlets,
        subjects: Subjects,
        settings: AggregatorSettings,
        metrics: AggregatorMetrics,
        retry: Retry | None = None,
    ) -> None:
        self.pool, self.redis, self.outlets, self.subjects = pool, redis, outlets, subjects
        self.settings, self.metrics = settings, metrics
        #: Publishes ride through a leader election under their message id (shared.jsretry).
        self.retry = retry or Retry(bound_s=settings.nats_retry_seconds)
        self.store = Store(pool, settings.retention_days)
        self.keys = CacheKeys(settings.redis_prefix)
        #: A deferred recent rebuild may be owed: True at start (a crash may have left one in the
        #: database), and after every deferral; cleared by :meth:`flush_recent`.
        self.recent_owed = True
        self.deferred_since: float | None = None
        #: Months may be due for compaction (shared/db/compaction.py): at start, and after a day
        #: completes; the idle round compacts every due month, a burst only the full ones.
        self.compaction_owed = True
        #: The bulk exports (EXPORT_DIR): woken after each completed day, never waited for.
        self.exports: Exporter | None = None
        if settings.export_dir is not None:
            self.exports = Exporter(
                pool,
                settings.export_dir,
                settings.export_catch_up_days,
                self._exported,
                metrics.export_failures.inc,
            )

    def _exported(self, done: Exported) -> None:
        self.metrics.export_seconds.observe(done.seconds)

    async def close(self) -> None:
        """Stop the background work that outlives a batch (the exporter)."""
        if self.exports is not None:
            await self.exports.close()

    async def write(self, items: list[tuple[PackageDay, int]]) -> Written:
        # A connection killed in the middle of a COPY can leave asyncpg waiting for ever; by
        # ack_wait the messages are redelivered anyway, so give up then and let them come back.
        written = await asyncio.wait_for(self.store.apply(items), self.settings.ack_wait)
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
        compacted = await self.compact(done.anchor, full_only=defer)
        kept = await apply_retention(
            self.pool, done.anchor, self.settings.retention_days, self.settings.partitions_ahead
        )
        if done.recent_deferred:
            self.metrics.recent_deferred.inc()
            self.recent_owed = True
            if self.deferred_since is None:
                self.deferred_since = time.monotonic()
        await analyze(self.pool, manifest.day, rollups=not done.recent_deferred)
        version = await bump_after_commit(self.redis, self.keys, self.pool)
        event = RollupsUpdated(day=manifest.day, run_id=manifest.run_id, packages=manifest.packages)
        await self.announce(event, f"{manifest.day.isoformat()}/rollups/{manifest.run_id}/{seq}")
        self.metrics.set_last_complete_day(done.anchor)
        if self.exports is not None:
            self.exports.wake()
        log.info(
            "day complete",
            day=str(manifest.day),
            run_id=manifest.run_id,
            packages=done.committed,
            removed=done.removed,
            anchor=str(done.anchor),
            cutoff=str(kept.cutoff),
            partitions_dropped=kept.dropped,
            months_compacted=compacted,
            recent_deferred=done.recent_deferred,
            cache_version=version,
        )
        return done

    async def compact(self, anchor: dt.date, *, full_only: bool) -> int:
        """Compact the due months (only those whose every day is complete during a burst, so a
        backfill running newest first compacts each month once); returns how many were.

        Compaction is its own transactions after the day's commit: a crash here leaves the day
        complete and the month partly folded, which readers see the same (compaction.py)."""
        self.compaction_owed = True
        done = await compact_due(
            self.pool, anchor, full_only=full_only, batch=self.settings.compact_batch_packages
        )
        if not full_only:
            self.compaction_owed = False
        for c in done:
            self.metrics.months_compacted.inc()
            self.metrics.compaction_seconds.observe(c.seconds)
        return len(done)

    async def compact_if_owed(self) -> bool:
        """The idle round's compaction of every due month; False when the database failed."""
        if not self.compaction_owed:
            return True
        try:
            # Compaction changes no number readers see, so cached bodies stay valid (no bump).
            anchor: dt.date | None = await self.pool.fetchval(LAST_COMPLETE_DAY)
            if anchor is not None:
                await self.compact(anchor, full_only=False)
            self.compaction_owed = False
        except Exception as exc:
            log.warning("compaction failed", error=type(exc).__name__, detail=str(exc)[:300])
            return False
        return True

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
        # The readers learn of this bump as of a completed day's: rollups.updated for the anchor.
        run = await self.pool.fetchrow(ANCHOR_RUN, anchor)
        if run is not None:
            event = RollupsUpdated(day=anchor, run_id=run["run_id"], packages=run["packages"])
            await self.announce(event, f"{anchor.isoformat()}/recent/{version}")
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

    async def announce(self, event: RollupsUpdated, msg_id: str) -> None:
        """Publish ``rollups.updated``, retried through an election under ``msg_id`` (stored once).
        It must not be given up on after the commit: a redelivered manifest finds its day already
        complete and announces nothing, so the readers would wait for their cache timer."""

        async def send() -> None:
            await self.outlets.rollups.publish(
                event,
                self.subjects.rollups(event.day),
                headers={"Nats-Msg-Id": msg_id},
                timeout=PUBLISH_TIMEOUT_S,
            )

        await self.retry.call(send, f"rollups.updated {msg_id}")

    async def dead_letter(self, letter: DeadLetter, seq: int | None) -> None:
        """Publish ``letter``; its id is derived from the stream sequence, so a redelivered bad
        message is stored once (``seq`` is None only for a message that is not from JetStream)."""
        headers = {"Nats-Msg-Id": f"dead/{seq}"} if seq is not None else {}

        async def send() -> None:
            await self.outlets.dead.publish(letter, headers=headers, timeout=PUBLISH_TIMEOUT_S)

        await self.retry.call(send, f"dead letter {seq}")
        reason = reason_of(letter)
        self.metrics.dead_letters.labels(reason).inc()
        self.metrics.messages.labels("dead_letter").inc()
        log.warning("dead letter", subject=letter.subject, reason=reason, seq=seq)


class BatchHandler:
    """Acks, naks and dead-letters the batches FastStream fetches from the shared durable consumer."""

    def __init__(self, processor: Processor) -> None:
        self.processor = processor
        self.settings = processor.settings
        self.metrics = processor.metrics
        self._inflight: set[asyncio.Task[None]] = set()
        self._write_failed = False
        self._backoff = 0.0
        self._last_batch = time.monotonic()
        #: One batch or one idle round at a time, as in a single fetch loop: the idle round's
        #: recent rebuild must never run beside a batch's day completion.
        self._turn = asyncio.Lock()

    async def handle(self, events: list[PackageDay | DayManifest | DeadLetter], msgs: list[Msg]) -> bool:
        """Apply one fetch (``events[i]`` decoded from ``msgs[i]``); False when the database failed,
        after waiting a growing delay, so FastStream's next fetch is held back meanwhile."""
        async with self._turn:
            try:
                ok = await self._handle(events, msgs)
            except Exception:  # unacked messages come back after ack_wait; keep consuming
                log.exception("batch handling failed")
                ok = False
        self._backoff = 0.0 if ok else min(MAX_BACKOFF_S, self._backoff * 2 or 0.2)
        if self._backoff:
            await asyncio.sleep(self._backoff)
        self._last_batch = time.monotonic()
        return ok

    async def _handle(self, events: list[PackageDay | DayManifest | DeadLetter], msgs: list[Msg]) -> bool:
        started = time.perf_counter()
        if not msgs:
            return True
        self.metrics.pending.set(_pending(msgs[-1]))
        batch = split(events)
        ok = True
        for letter, i in batch.rejected:
            try:
                await self.processor.dead_letter(letter, _seq(msgs[i]))
            except Exception as exc:
                log.warning("dead letter publish failed", error=type(exc).__name__)
                await _nak(msgs[i], self.settings.error_retry_delay)
                continue
            await _ack(msgs[i])
        if batch.package_days:
            await self._free_slot()
            items = [(event, msgs[i]) for event, i in batch.package_days]
            task = asyncio.create_task(self._write(items, started))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        if batch.manifests:
            ok = await self.drain() and ok
        last = batch.manifests[-1][1] if batch.manifests else None
        for manifest, i in batch.manifests:
            msg = msgs[i]
            more = i != last or bool(_pending(msg))
            seq = _seq(msg) or 0
            try:
                done = await self.processor.finish_day(manifest, seq, defer_recent=more)
            except Exception as exc:
                ok = False
                log.warning(
                    "manifest failed", day=str(manifest.day), error=type(exc).__name__, detail=str(exc)[:300]
                )
                await _nak(msg, self.settings.error_retry_delay)
                continue
            if done.outcome is Outcome.INCOMPLETE and _delivered(msg) >= self.settings.manifest_max_attempts:
                await self._give_up(manifest, msg, done.committed)
            elif done.outcome is Outcome.INCOMPLETE:
                log.info(
                    "manifest waits", day=str(manifest.day), run_id=manifest.run_id,
                    committed=done.committed, packages=manifest.packages,
                )  # fmt: skip
                await _nak(msg, self.settings.manifest_retry_delay)
            else:
                await _ack(msg)
        if batch.manifests:
            ok = await self.processor.flush_if_due(_pending(msgs[-1])) and ok
        if not batch.package_days:
            self.metrics.batch_duration.observe(time.perf_counter() - started)
        failed, self._write_failed = self._write_failed, False  # a write that failed since the last look
        return ok and not failed

    async def _give_up(self, manifest: DayManifest, msg: Msg, committed: int) -> None:
        """A run that never completes (its package-days were lost or dead-lettered) must not loop for ever."""
        detail = f"run {manifest.run_id} has {committed} of {manifest.packages} package-days committed"
        letter = Rejected(Incoming(msg.subject, msg.data, _seq(msg) or 0), "incomplete_run", detail)
        try:
            await self.processor.dead_letter(letter.dead_letter(dt.datetime.now(dt.UTC)), _seq(msg))
        except Exception as exc:
            log.warning("dead letter publish failed", error=type(exc).__name__)
            await _nak(msg, self.settings.error_retry_delay)
            return
        await _ack(msg)

    async def idle(self) -> None:
        """Called every ``FETCH_TIMEOUT`` by the service: once no batch came for that long, finish
        in-flight writes, do a deferred recent rebuild (it is owed after a crash or a backlog) and
        compact the months that are due."""
        if self._turn.locked() or time.monotonic() - self._last_batch < self.settings.fetch_timeout:
            return
        async with self._turn:
            self.metrics.pending.set(0)
            if await self.drain():
                await self.processor.flush_if_due(0)
                await self.processor.compact_if_owed()

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

    async def _write(self, items: list[tuple[PackageDay, Msg]], started: float) -> None:
        """One batch transaction; its messages are acked after the commit, nak'ed on failure."""
        try:
            await self.processor.write([(event, _seq(msg) or 0) for event, msg in items])
        except Exception as exc:
            self._write_failed = True
            log.warning("batch write failed", error=type(exc).__name__, detail=str(exc)[:300])
            for _, msg in items:
                await _nak(msg, self.settings.error_retry_delay)
        else:
            for _, msg in items:
                await _ack(msg)
        self.metrics.batch_duration.observe(time.perf_counter() - started)


def _seq(msg: Msg) -> int | None:
    """The message's stream sequence (None for a message that did not come from JetStream)."""
    try:
        return int(msg.metadata.sequence.stream)
    except NotJSMessageError:
        return None


def _pending(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_pending or 0)
    except NotJSMessageError:
        return 0


def _delivered(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered or 1)
    except NotJSMessageError:
        return 1


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
