"""Listening to ``rollups.updated`` in the HTTP services (api, web), through FastStream.

Owns the subscriber both services declare and the broker that runs it beside aiohttp:

* :func:`rollups_router` declares, per service, a subscriber on ``rollups.updated.v1.{day}`` with
  its own *ordered* consumer (ephemeral, in memory on the server, ``DeliverPolicy.NEW``): every
  replica sees every event from the moment it subscribes, no replica takes one from another, and
  nothing is left behind on the server when a replica goes away. The handler drops the service's
  in-process cache; the Redis cache version stays the truth that every replica also re-reads on
  its own timer, the fallback while NATS is away.
* :class:`Listener` connects in the background and keeps trying (NATS down, or the stream not
  created yet by the aggregator), so the service starts and serves without NATS.
* :func:`listener_ctx` is the aiohttp ``cleanup_ctx`` that runs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from faststream import AckPolicy
from faststream.nats import NatsBroker, NatsRouter
from nats.js.api import DeliverPolicy

from shared.events import RollupsUpdated, Subjects
from shared.logging import get_logger
from shared.messaging import channel, make_broker, stream_ref
from shared.tasks import stop_task

log = get_logger(__name__)

OnUpdate = Callable[[RollupsUpdated], Awaitable[None]]
RETRY_MAX_S = 10.0
#: How long :meth:`Listener.stop` waits for a start attempt in progress to end.
STOP_TIMEOUT_S = 10.0


def rollups_router(subjects: Subjects, service: str, on_update: OnUpdate) -> NatsRouter:
    """A router with ``service``'s subscriber on ``rollups.updated``, calling ``on_update``."""
    router = NatsRouter()

    @router.subscriber(
        channel(subjects.rollups_prefix),
        stream=stream_ref(subjects.rollups_stream),
        deliver_policy=DeliverPolicy.NEW,
        ordered_consumer=True,
        ack_policy=AckPolicy.MANUAL,  # an ordered consumer takes no acks
        title=f"{service}: rollups.updated",
        description=(
            f"Each {service} replica has its own ordered consumer (new events only) and drops its "
            "in-process cache on every event; the Redis cache version, re-read on a timer, is the "
            "fallback while NATS is away."
        ),
    )
    async def on_rollups_updated(event: RollupsUpdated) -> None:
        """A day's rollups are committed: forget what was cached for the previous cache version.
        Idempotent: dropping a cache twice, or re-reading the same version, changes nothing."""
        log.info("rollups updated", service=service, day=event.day.isoformat(), run_id=event.run_id)
        await on_update(event)

    return router


class Listener:
    """A broker with one router, started in the background and retried until it runs."""

    def __init__(self, url: str, router: NatsRouter, name: str) -> None:
        self.broker: NatsBroker = make_broker(url, name=name, graceful_timeout=5.0)
        self.broker.include_router(router)
        self.name = name
        self.running = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-events")

    async def _run(self) -> None:
        """Start the broker, retrying with backoff. The flag ends the loop even when a cancellation
        is lost inside nats-py's ``wait_for`` calls (shared.tasks), which left it retrying for ever."""
        delay = 0.5
        while not self._stopped:
            try:
                await self.broker.start()
            except Exception as exc:  # NATS away, or the rollups stream not created yet
                log.warning("events unavailable, retrying", error=type(exc).__name__, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            log.info("listening to rollups.updated", service=self.name)
            self.running.set()
            return

    async def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            await stop_task(self._task, STOP_TIMEOUT_S)
        try:
            await asyncio.wait_for(self.broker.stop(), 5.0)
        except Exception as exc:  # leaving anyway
            log.info("events broker close failed", error=type(exc).__name__)


LISTENER = web.AppKey("events_listener", Listener)


def listener_ctx(
    url: str, router: Callable[[web.Application], NatsRouter], name: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Run a :class:`Listener` for the app's lifetime; ``router(app)`` is built once the app's
    other resources (the caches it drops) exist."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        listener = Listener(url, router(app), name)
        app[LISTENER] = listener
        listener.start()
        yield
        await listener.stop()

    return ctx
