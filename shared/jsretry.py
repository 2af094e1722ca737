"""Riding JetStream calls and publishes through a cluster's leader election or a lost node.

Owns :class:`Retry` (the bound, ``NATS_RETRY_SECONDS``, and the backoff), :func:`transient`
(which errors a retry can cure) and :class:`JetStreamUnavailable` (the clear error once the bound
is spent). On a three-node cluster a killed node costs a few seconds: its clients reconnect to
another node, and every stream or consumer it led elects a new leader, during which JetStream API
requests time out or answer 503 ("no responders", "temporarily unavailable") and creating an R3
stream finds too few peers. Each call is retried with a growing delay until it succeeds or the
bound is spent. A publish is retried with the same ``Nats-Msg-Id`` (the caller builds each
attempt with its headers), so the stream's duplicate window stores it once however many attempts
reached the stream before an ack was lost.

What is never retried: an error the stream answers about the request itself (a 4xx other than a
timeout: too large, wrong subject, a stream or consumer that does not exist), since no election
changes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from nats.errors import (
    ConnectionClosedError,
    ConnectionReconnectingError,
    NoRespondersError,
    NoServersError,
    OutboundBufferLimitError,
    StaleConnectionError,
)
from nats.js.errors import APIError, NoStreamResponseError

from shared.logging import get_logger

T = TypeVar("T")
log = get_logger(__name__)

#: Default of ``NATS_RETRY_SECONDS``: far longer than a leader election (1-5 s) or a node's restart.
DEFAULT_BOUND_S = 120.0
FIRST_DELAY_S = 0.1
MAX_DELAY_S = 2.0

#: JetStream's 4xx error codes a node coming back cures: "no suitable peers for placement" (10005,
#: an R3 stream created while a node is down). The election errors themselves are 5xx
#: (503 "temporarily unavailable", 500 "cluster can not handle request") and retried as such.
ELECTION_ERR_CODES = frozenset({10005})

#: What a lost connection or a silent cluster raises (the builtin TimeoutError covers nats-py's).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,
    NoRespondersError,
    NoServersError,
    ConnectionClosedError,
    ConnectionReconnectingError,
    OutboundBufferLimitError,
    StaleConnectionError,
    ConnectionError,
    NoStreamResponseError,
)


class JetStreamUnavailable(RuntimeError):
    """A JetStream call kept failing for the whole retry bound."""


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is what an election, a reconnect or a node's return cures."""
    if isinstance(exc, APIError):
        code = exc.code or 0
        return code >= 500 or code == 408 or (exc.err_code in ELECTION_ERR_CODES)
    return isinstance(exc, TRANSIENT_ERRORS)


@dataclass(frozen=True)
class Retry:
    """Bounded retries with exponential backoff (``first_s`` doubling up to ``max_s``)."""

    bound_s: float = DEFAULT_BOUND_S
    first_s: float = FIRST_DELAY_S
    max_s: float = MAX_DELAY_S
    #: A bound on each attempt (None: the call's own timeout). A request sent to a leader that
    #: has just died is never answered: without this, each such attempt waits the whole request
    #: timeout of the connection (10 s) before the retry can reach the new leader.
    attempt_s: float | None = None

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        what: str,
        *,
        on_retry: Callable[[BaseException], object] | None = None,
    ) -> T:
        """``await attempt()`` until it succeeds; a transient error is retried after a delay for up
        to ``bound_s`` seconds, then :class:`JetStreamUnavailable`; any other error is raised."""
        delay = self.first_s
        give_up = time.monotonic() + self.bound_s
        tries = 0
        while True:
            try:
                if self.attempt_s is None:
                    return await attempt()
                async with asyncio.timeout(self.attempt_s):
                    return await attempt()
            except Exception as exc:
                if not transient(exc):
                    raise
                tries += 1
                if time.monotonic() + delay > give_up:
                    raise JetStreamUnavailable(
                        f"{what}: JetStream did not answer within {self.bound_s:.0f}s "
                        f"({tries} attempts, last error {describe(exc)})"
                    ) from exc
                if on_retry is not None:
                    on_retry(exc)
                log.warning("jetstream retry", what=what, error=describe(exc), backoff_s=round(delay, 3))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_s)


def describe(exc: BaseException) -> str:
    """The error's type, with its JetStream codes (never a URL or credentials)."""
    if isinstance(exc, APIError):
        return f"{type(exc).__name__} {exc.code}/{exc.err_code}"
    return type(exc).__name__
