"""shared.jsretry: which errors are retried, the bound, the backoff and the clear error."""

from __future__ import annotations

import asyncio

import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError, BadRequestError, NotFoundError, ServiceUnavailableError

from shared.jsretry import JetStreamUnavailable, Retry, transient


@pytest.mark.parametrize(
    "exc",
    [
        NatsTimeoutError(),
        TimeoutError(),
        NoRespondersError(),
        ConnectionResetError(),
        ServiceUnavailableError(code=503, err_code=10008),
        APIError(code=500, err_code=10009),
        APIError(code=408),
        BadRequestError(code=400, err_code=10005),  # no suitable peers: a node is down
    ],
)
def test_what_an_election_or_a_lost_node_raises_is_retried(exc: BaseException) -> None:
    assert transient(exc)


@pytest.mark.parametrize(
    "exc",
    [NotFoundError(code=404, err_code=10059), BadRequestError(code=400, err_code=10054), ValueError()],
)
def test_a_refusal_of_the_request_itself_is_not(exc: BaseException) -> None:
    assert not transient(exc)


async def test_retries_until_it_answers_then_returns_its_answer() -> None:
    failures = [NatsTimeoutError(), ServiceUnavailableError(code=503)]
    seen: list[str] = []

    async def attempt() -> str:
        if failures:
            raise failures.pop(0)
        return "ack"

    result = await Retry(bound_s=5, first_s=0.001).call(
        attempt, "t", on_retry=lambda e: seen.append(type(e).__name__)
    )
    assert result == "ack" and seen == ["TimeoutError", "ServiceUnavailableError"]


async def test_gives_up_with_a_clear_error_after_the_bound() -> None:
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise NoRespondersError

    with pytest.raises(
        JetStreamUnavailable, match=r"stream setup X: JetStream did not answer within 0s"
    ) as info:
        await Retry(bound_s=0.05, first_s=0.01, max_s=0.01).call(attempt, "stream setup X")
    assert calls >= 2 and "NoRespondersError" in str(info.value)


async def test_an_error_that_no_retry_cures_is_raised_at_once() -> None:
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise BadRequestError(code=400, err_code=10054)

    with pytest.raises(BadRequestError):
        await Retry(bound_s=5, first_s=0.001).call(attempt, "t")
    assert calls == 1


async def test_an_attempt_that_hangs_is_cut_and_tried_again() -> None:
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(10)  # a request to a leader that died: never answered
        return "ok"

    assert await Retry(bound_s=5, first_s=0.001, attempt_s=0.05).call(attempt, "t") == "ok"
    assert calls == 2
