"""What a pull subscription's fetch may raise, made safe for FastStream's fetch loop.

Owns :func:`guard_fetches`, applied to a JetStream context before any subscriber pulls
(shared.messaging.connect_broker). FastStream 0.7.8's pull loops catch only nats-py's
``TimeoutError``, ``ConnectionClosedError`` and ``ServiceUnavailableError``, and fetch again at once:

* nats-py 2.16 sometimes raises the builtin ``TimeoutError`` when a fetch expires with almost no
  time left; FastStream's batch loop does not catch it, so its task ends and drops the part of
  the batch already fetched (which then waits ``ACK_WAIT`` to be redelivered). It becomes nats-py's.
* A fetch whose consumer has no responder (its leader is being elected after a node was lost,
  or the durable consumer was deleted by hand) answers 503 at once, every time: FastStream would
  spin on it, one request after another. Any other error ends FastStream's task, which its
  supervisor restarts at once, spinning just the same. Every such error now waits a growing delay
  (0.1 s doubling to 5 s, reset by the next fetch that answers) and then reads as an expired fetch
  (nats-py's ``TimeoutError``), so the loop goes on at that pace, keeping what it fetched.
* Before that, a durable consumer that no longer exists is created again with the settings it was
  subscribed with (one look per failure, never while it exists). It starts from the stream's
  first message, as the first replica's did: everything is redelivered, which the aggregator's
  handlers make harmless (they replace, recompute and dedup), at the cost of a replay.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError

from shared.jsretry import describe
from shared.logging import get_logger

log = get_logger(__name__)

FIRST_DELAY_S = 0.1
MAX_DELAY_S = 5.0


class _Backoff:
    """The growing delay of one subscription's failing fetches."""

    def __init__(self) -> None:
        self.delay = 0.0

    async def wait(self, exc: BaseException, subject: str) -> None:
        self.delay = min(MAX_DELAY_S, self.delay * 2 or FIRST_DELAY_S)
        if self.delay in (FIRST_DELAY_S, MAX_DELAY_S):  # the first failure, then at most every 5 s
            log.warning("fetch failed, backing off", subject=subject, error=describe(exc), delay_s=self.delay)
        await asyncio.sleep(self.delay)

    def reset(self, subject: str) -> None:
        if self.delay:
            log.info("fetch answers again", subject=subject)
        self.delay = 0.0


async def _recreate_if_gone(
    js: JetStreamContext,
    sub: JetStreamContext.PullSubscription,
    subject: str,
    durable: str | None,
    config: ConsumerConfig | None,
) -> None:
    """Create the durable consumer again when JetStream says it does not exist."""
    stream = getattr(sub, "_stream", None)
    if not stream or not durable:
        return  # an ephemeral consumer (replay's, an ordered one): its owner makes a new one
    config = config or ConsumerConfig()
    try:
        await js.consumer_info(stream, durable)
        return
    except NotFoundError:
        pass
    except Exception:  # JetStream itself is not answering: the next failure looks again
        return
    again = dataclasses.replace(
        config, name=durable, durable_name=durable, filter_subject=config.filter_subject or subject
    )
    await js.add_consumer(stream, config=again)
    log.warning("durable consumer was missing: created again", stream=stream, consumer=durable)


def guard_fetches(js: JetStreamContext) -> None:
    """Wrap ``js.pull_subscribe`` so every subscription's ``fetch`` is guarded (module doc)."""
    original = js.pull_subscribe
    if getattr(original, "guarded", False):
        return

    async def pull_subscribe(*args: Any, **kwargs: Any) -> JetStreamContext.PullSubscription:
        sub = await original(*args, **kwargs)
        named = dict(zip(("subject", "durable", "stream", "config"), args, strict=False)) | kwargs
        subject, durable, config = str(named.get("subject", "")), named.get("durable"), named.get("config")
        fetch = sub.fetch
        backoff = _Backoff()

        async def guarded_fetch(*fargs: Any, **fkwargs: Any) -> list[Msg]:
            try:
                msgs = await fetch(*fargs, **fkwargs)
            except NatsTimeoutError:
                backoff.reset(subject)  # JetStream answered: nothing to fetch
                raise
            except TimeoutError as exc:
                raise NatsTimeoutError from exc
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await backoff.wait(exc, subject)
                try:
                    await _recreate_if_gone(js, sub, subject, durable, config)
                except Exception as again:
                    log.warning("cannot create the durable consumer again", error=describe(again))
                raise NatsTimeoutError from exc
            backoff.reset(subject)
            return msgs

        sub.fetch = guarded_fetch  # type: ignore[method-assign]
        return sub

    pull_subscribe.guarded = True  # type: ignore[attr-defined]
    js.pull_subscribe = pull_subscribe  # type: ignore[method-assign]
