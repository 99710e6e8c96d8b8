"""The LLM resilience policy: timeout, retries with backoff and jitter, a circuit breaker, a fallback.

- Every wait for the upstream (the first chunk, then each next one) is bounded by ``timeout_s``.
- Only retryable failures (timeouts, connection errors, 408/409/429/5xx) are retried, with
  exponential backoff and full jitter, and never once a chunk has reached the caller: a
  retry then would repeat or contradict text the user already saw.
- One ``CircuitBreaker`` per upstream opens when the error rate over a sliding window
  passes a threshold, fails fast while open, then lets half-open probes through; every
  state change goes to ``on_transition`` (the alert hook).
- Callers show ``FALLBACK_MESSAGE`` instead of an error page or a stack trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

FALLBACK_MESSAGE = "Sorry, the assistant can't answer right now. Please try again in a moment."
INTERRUPTED_MESSAGE = "Sorry, the answer was interrupted. Please send your message again."
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    @property
    def gauge_value(self) -> int:
        """0 closed, 1 half-open, 2 open (what the breaker-state metric exports)."""
        return {"closed": 0, "half_open": 1, "open": 2}[self.value]


class UpstreamUnavailable(Exception):
    """The breaker is open: the upstream is not called at all."""

    def __init__(self, upstream: str, retry_after_s: float) -> None:
        super().__init__(
            f"upstream {upstream!r} is unavailable (circuit open); retry in {retry_after_s:.0f} s"
        )
        self.upstream = upstream
        self.retry_after_s = retry_after_s


class UpstreamTimeout(Exception):
    """The upstream sent nothing for ``timeout_s`` seconds."""


def status_of(exc: BaseException) -> int | None:
    """The HTTP status carried by an upstream error (openai / httpx style), if any."""
    for candidate in (exc, getattr(exc, "response", None)):
        status = getattr(candidate, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def is_retryable(exc: BaseException) -> bool:
    """Timeouts, connection failures and 408/409/429/5xx are worth another try; the rest is not."""
    if isinstance(exc, UpstreamUnavailable):
        return False
    if isinstance(exc, UpstreamTimeout | TimeoutError | ConnectionError):
        return True
    status = status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    name = type(exc).__name__
    return any(word in name for word in ("Timeout", "Connect", "RemoteProtocol", "ReadError"))


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``max_retries`` more attempts, sleeping ``uniform(0, min(cap, base * 2**n))``."""

    max_retries: int = 2
    base_delay_s: float = 0.2
    max_delay_s: float = 4.0

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * 2**retry)
        return (rng or random).uniform(0, ceiling)


Transition = Callable[["CircuitBreaker", BreakerState, BreakerState], None]


class CircuitBreaker:
    """Opens when failures / calls over the last ``window_s`` exceed ``error_rate`` (with ``min_calls``).

    Outcomes are kept in one-second buckets, so memory is bounded by the window length.
    """

    def __init__(
        self,
        upstream: str,
        *,
        error_rate: float = 0.10,
        window_s: float = 30.0,
        min_calls: int = 10,
        cooldown_s: float = 15.0,
        half_open_probes: int = 1,
        on_transition: Transition | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self.error_rate = error_rate
        self.window_s = window_s
        self.min_calls = min_calls
        self.cooldown_s = cooldown_s
        self.half_open_probes = half_open_probes
        self.on_transition = on_transition
        self.clock = clock
        self.state = BreakerState.CLOSED
        self._buckets: deque[list[int]] = deque()  # [second, calls, failures]
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_successes = 0

    def _bucket(self) -> list[int]:
        second = int(self.clock())
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0])
        while self._buckets and self._buckets[0][0] <= second - self.window_s:
            self._buckets.popleft()
        return self._buckets[-1]

    def window_counts(self) -> tuple[int, int]:
        """(calls, failures) in the current window."""
        self._bucket()
        return sum(b[1] for b in self._buckets), sum(b[2] for b in self._buckets)

    @property
    def retry_after_s(self) -> float:
        return max(0.0, self._opened_at + self.cooldown_s - self.clock())

    def _move(self, new: BreakerState) -> None:
        old, self.state = self.state, new
        if new is BreakerState.OPEN:
            self._opened_at = self.clock()
        if new is not BreakerState.HALF_OPEN:
            self._probes_in_flight = self._probe_successes = 0
        if new is BreakerState.CLOSED:
            self._buckets.clear()
        if self.on_transition is not None and old is not new:
            self.on_transition(self, old, new)

    def allow(self) -> bool:
        """May a call go upstream now? (Half-open admits a limited number of probes.)"""
        if self.state is BreakerState.OPEN:
            if self.retry_after_s > 0:
                return False
            self._move(BreakerState.HALF_OPEN)
        if self.state is BreakerState.HALF_OPEN:
            if self._probes_in_flight >= self.half_open_probes:
                return False
            self._probes_in_flight += 1
        return True

    def record_success(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._probes_in_flight = max(0, self._probes_in_flight - 1)
            self._probe_successes += 1
            if self._probe_successes >= self.half_open_probes:
                self._move(BreakerState.CLOSED)
            return
        self._bucket()[1] += 1

    def record_failure(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._move(BreakerState.OPEN)
            return
        bucket = self._bucket()
        bucket[1] += 1
        bucket[2] += 1
        calls, failures = self.window_counts()
        over_threshold = calls >= self.min_calls and failures / calls > self.error_rate
        if self.state is BreakerState.CLOSED and over_threshold:
            self._move(BreakerState.OPEN)

    def release_probe(self) -> None:
        """A half-open probe ended without an outcome (cancelled): free its slot."""
        if self.state is BreakerState.HALF_OPEN:
            self._probes_in_flight = max(0, self._probes_in_flight - 1)


async def _next_within(iterator: AsyncIterator[T], timeout_s: float) -> T:
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
    # races with the chunk's arrival, leaving a cancelled stream reading on.
    try:
        async with asyncio.timeout(timeout_s):
            return await anext(iterator)
    except TimeoutError as exc:
        raise UpstreamTimeout(f"the upstream sent nothing for {timeout_s:g} s") from exc


async def resilient_stream(
    open_stream: Callable[[], AsyncIterator[T]],
    *,
    breaker: CircuitBreaker | None = None,
    policy: RetryPolicy = RetryPolicy(),
    timeout_s: float = 30.0,
    on_retry: Callable[[int, BaseException], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    retryable: Callable[[BaseException], bool] = is_retryable,
) -> AsyncIterator[T]:
    """Yield the upstream's chunks under the policy; retry only before the first chunk is yielded.

    The breaker sees one outcome per call, after retries: a call that a retry rescued is a
    success (the user got an answer), so transient blips do not open the circuit; a call
    that still fails, or breaks after its first chunk, is a failure. Raises
    ``UpstreamUnavailable`` when the breaker is open, else the last upstream error.
    """
    if breaker is not None and not breaker.allow():
        raise UpstreamUnavailable(breaker.upstream, breaker.retry_after_s)
    retry = 0
    settled = False
    try:
        while True:
            iterator = open_stream()
            delivered = False
            try:
                while True:
                    try:
                        chunk = await _next_within(iterator, timeout_s)
                    except StopAsyncIteration:
                        break
                    if not settled and breaker is not None:
                        breaker.record_success()
                    settled = delivered = True
                    yield chunk
                if not settled and breaker is not None:
                    breaker.record_success()
                settled = True
                return
            except Exception as exc:
                if delivered or retry >= policy.max_retries or not retryable(exc):
                    if breaker is not None:
                        breaker.record_failure()
                    settled = True
                    raise
                if on_retry is not None:
                    on_retry(retry + 1, exc)
                await sleep(policy.delay(retry))
                retry += 1
            finally:
                close = getattr(iterator, "aclose", None)
                if close is not None:
                    await close()
    except (GeneratorExit, asyncio.CancelledError):
        if not settled and breaker is not None:
            breaker.release_probe()
        raise


async def resilient_call(
    call: Callable[[], Awaitable[T]],
    *,
    breaker: CircuitBreaker | None = None,
    policy: RetryPolicy = RetryPolicy(),
    timeout_s: float = 30.0,
    on_retry: Callable[[int, BaseException], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    retryable: Callable[[BaseException], bool] = is_retryable,
) -> T:
    """One non-streaming upstream call under the same policy as ``resilient_stream``."""

    async def once() -> AsyncIterator[T]:
        yield await call()

    stream = resilient_stream(
        once, breaker=breaker, policy=policy, timeout_s=timeout_s, on_retry=on_retry, sleep=sleep,
        retryable=retryable,
    )
    async with contextlib.aclosing(stream):
        async for result in stream:
            return result
    raise RuntimeError("the upstream call returned nothing")
