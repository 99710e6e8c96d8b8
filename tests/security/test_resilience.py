"""Retries, timeouts and the circuit breaker of the LLM resilience policy."""

from __future__ import annotations

import asyncio

import pytest

from reference_server.security.resilience import (
    BreakerState,
    CircuitBreaker,
    RetryPolicy,
    UpstreamTimeout,
    UpstreamUnavailable,
    is_retryable,
    resilient_call,
    resilient_stream,
)


class StatusError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


async def no_sleep(_: float) -> None:
    return None


def test_only_transient_failures_are_retryable():
    assert is_retryable(StatusError(503)) and is_retryable(StatusError(429)) and is_retryable(TimeoutError())
    assert is_retryable(ConnectionResetError()) and is_retryable(UpstreamTimeout("x"))
    assert not is_retryable(StatusError(400)) and not is_retryable(StatusError(401))
    assert not is_retryable(ValueError("bad")) and not is_retryable(UpstreamUnavailable("u", 1))


def test_backoff_grows_exponentially_with_full_jitter():
    policy = RetryPolicy(base_delay_s=0.1, max_delay_s=1.0)
    for retry, ceiling in [(0, 0.1), (1, 0.2), (2, 0.4), (5, 1.0)]:
        delays = [policy.delay(retry) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2 and len(set(delays)) > 100


async def test_retries_before_the_first_chunk_then_succeeds():
    attempts = []

    async def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise StatusError(503)
        for piece in ("a", "b"):
            yield piece

    retries = []
    out = [c async for c in resilient_stream(flaky, policy=RetryPolicy(max_retries=2), sleep=no_sleep,
                                             on_retry=lambda n, e: retries.append(n))]
    assert out == ["a", "b"] and len(attempts) == 3 and retries == [1, 2]


async def test_never_retries_after_the_first_chunk_reached_the_caller():
    attempts = []

    async def breaks_mid_stream():
        attempts.append(1)
        yield "first"
        raise StatusError(503)

    received = []
    with pytest.raises(StatusError):
        policy = RetryPolicy(max_retries=5)
        async for chunk in resilient_stream(breaks_mid_stream, policy=policy, sleep=no_sleep):
            received.append(chunk)
    assert received == ["first"] and len(attempts) == 1


async def test_non_retryable_errors_fail_at_once():
    attempts = []

    async def bad_request():
        attempts.append(1)
        raise StatusError(400)

    with pytest.raises(StatusError):
        await resilient_call(bad_request, policy=RetryPolicy(max_retries=3), sleep=no_sleep)
    assert len(attempts) == 1


async def test_silence_longer_than_the_timeout_is_a_retryable_timeout():
    attempts = []

    async def hangs():
        attempts.append(1)
        await asyncio.sleep(10)
        yield "never"

    with pytest.raises(UpstreamTimeout):
        policy = RetryPolicy(max_retries=1)
        async for _ in resilient_stream(hangs, timeout_s=0.05, policy=policy, sleep=no_sleep):
            pass
    assert len(attempts) == 2


def test_breaker_opens_over_the_error_rate_probes_half_open_and_alerts():
    now = [1000.0]
    transitions = []
    breaker = CircuitBreaker(
        "mock", error_rate=0.10, window_s=30, min_calls=10, cooldown_s=15, clock=lambda: now[0],
        on_transition=lambda b, old, new: transitions.append((old, new)),
    )
    for _ in range(18):
        assert breaker.allow()
        breaker.record_success()
    breaker.allow()
    breaker.record_failure()
    breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED  # 2 / 20 = 10%: not above the threshold
    breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    now[0] += 16
    assert breaker.allow() and breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # one probe at a time
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    now[0] += 16
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert transitions == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


def test_breaker_forgets_failures_outside_its_window():
    now = [0.0]
    breaker = CircuitBreaker("mock", window_s=30, min_calls=4, clock=lambda: now[0])
    for _ in range(3):
        breaker.record_failure()
    now[0] += 31
    assert breaker.window_counts() == (0, 0)
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


async def test_open_breaker_fails_fast_without_calling_upstream():
    calls = []
    breaker = CircuitBreaker("mock", min_calls=1, cooldown_s=60)

    async def down():
        calls.append(1)
        raise StatusError(500)

    with pytest.raises(StatusError):
        await resilient_call(down, breaker=breaker, policy=RetryPolicy(max_retries=0))
    with pytest.raises(UpstreamUnavailable) as unavailable:
        await resilient_call(down, breaker=breaker)
    assert len(calls) == 1 and unavailable.value.retry_after_s > 0


async def test_breaker_counts_one_outcome_per_call_so_rescued_calls_are_successes():
    breaker = CircuitBreaker("mock", min_calls=1, error_rate=0.10)
    attempts = []

    async def fails_once():
        attempts.append(1)
        if len(attempts) == 1:
            raise StatusError(503)
        yield "ok"

    out = [c async for c in resilient_stream(fails_once, breaker=breaker, sleep=no_sleep)]
    assert out == ["ok"] and breaker.window_counts() == (1, 0) and breaker.state is BreakerState.CLOSED
