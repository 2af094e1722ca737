"""A circuit breaker in front of Redis, for the services that can answer without it.

Owns :class:`RedisGate`. Redis is a cache, a session store and a rate-limit counter here; when it
fails, or worse hangs (a stopped process: connections are accepted, nothing is answered), every
command costs the client's socket timeout (2 s, shared.web.redis_ctx). Without a breaker a page
that asks Redis three things pays that three times, on every request. The gate remembers the
failure instead:

- *closed*: :meth:`RedisGate.client` hands out the client; callers report each command's
  outcome with :meth:`~RedisGate.succeeded` or :meth:`~RedisGate.failed`;
- *open*: for ``retry_seconds`` after a failure, ``client()`` returns None and callers answer
  without Redis (no cache, logged out, ...) at no cost;
- *half-open*: after that, ONE caller gets the client to probe Redis while the others keep
  skipping it, until the probe reports (success closes the gate, failure opens it again) or
  ``probe_seconds`` pass without a report (a probe cancelled mid-command).

So an outage costs one timeout per ``retry_seconds`` per process, not one per request. The state
is exported as a gauge (``pypistats_<service>_redis_up``) and logged when it changes.
"""

from __future__ import annotations

import time

from prometheus_client import Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.logging import get_logger

log = get_logger(__name__)

#: What a failed or hung Redis command raises (redis-py's own errors, sockets, timeouts).
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
RETRY_SECONDS = 5.0
#: A half-open probe that has not reported after this long is forgotten (longer than a timeout).
PROBE_SECONDS = 5.0


class RedisGate:
    """Skips Redis for ``retry_seconds`` after a failure, then lets one request probe it."""

    def __init__(
        self,
        redis: Redis | None,
        up: Gauge | None = None,
        retry_seconds: float = RETRY_SECONDS,
        probe_seconds: float = PROBE_SECONDS,
    ) -> None:
        self.redis = redis
        self.retry_seconds = retry_seconds
        self.probe_seconds = probe_seconds
        self._open_until = 0.0  # 0: closed
        self._probe_until = 0.0  # a half-open probe is out until then
        self._up = up
        self._set_up(redis is not None)

    @property
    def is_open(self) -> bool:
        """Whether Redis is currently considered down (failed and not answered since)."""
        return self._open_until != 0.0

    def client(self) -> Redis | None:
        """The client, or None while Redis is to be skipped."""
        if self.redis is None:
            return None
        if not self._open_until:
            return self.redis
        now = time.monotonic()
        if now < self._open_until or now < self._probe_until:
            return None
        self._probe_until = now + self.probe_seconds  # this caller probes; the others skip
        return self.redis

    def failed(self, exc: BaseException) -> None:
        """A command failed or timed out: skip Redis for ``retry_seconds``."""
        if not self._open_until:
            log.warning(
                "redis unavailable, answering without it",
                error=type(exc).__name__,
                retry_s=self.retry_seconds,
            )
        self._open_until = time.monotonic() + self.retry_seconds
        self._probe_until = 0.0
        self._set_up(False)

    def succeeded(self) -> None:
        """A command answered: Redis is usable again."""
        if self._open_until:
            log.info("redis answers again")
            self._open_until = self._probe_until = 0.0
            self._set_up(True)

    def _set_up(self, up: bool) -> None:
        if self._up is not None:
            self._up.set(1 if up else 0)
