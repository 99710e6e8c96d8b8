"""The LLM seam under the resilience policy, measured and traced.

``GuardedLLM`` wraps the server's ``LLMClient`` with the same ``complete`` / ``stream``
interface: calls pass the upstream's circuit breaker, transient failures are retried with
backoff and jitter (never once a token reached the user), every call is recorded under
the GenAI metric names and, when tracing is on, as a span. A call that cannot be answered
raises ``UpstreamError`` carrying the friendly fallback message, never a stack trace.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from reference_server.llm.client import ChatMessage, Completion, Delta, LLMClient, StreamEnd, UpstreamError
from reference_server.observability.metrics import ServerMetrics
from reference_server.observability.otel import Tracing
from reference_server.observability.timing import record_hop
from reference_server.security.resilience import (
    FALLBACK_MESSAGE,
    INTERRUPTED_MESSAGE,
    CircuitBreaker,
    RetryPolicy,
    UpstreamTimeout,
    UpstreamUnavailable,
    is_retryable,
    resilient_call,
    resilient_stream,
)

log = logging.getLogger("reference_server.llm")


def _retryable(exc: BaseException) -> bool:
    """The client's ``UpstreamError`` is judged by the error it wraps (timeout, 503, ...)."""
    if isinstance(exc, UpstreamError):
        cause = exc.__cause__
        return exc.code in ("upstream_timeout", "upstream_unavailable") or (
            cause is not None and is_retryable(cause)
        )
    return is_retryable(exc)


class GuardedLLM:
    """``LLMClient`` + retries + circuit breaker + metrics + spans, same interface."""

    def __init__(
        self,
        inner: LLMClient,
        *,
        breaker: CircuitBreaker | None = None,
        policy: RetryPolicy = RetryPolicy(),
        timeout_s: float = 30.0,
        metrics: ServerMetrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.inner = inner
        self.breaker = breaker
        self.policy = policy
        self.timeout_s = timeout_s
        self.metrics = metrics
        self.tracing = tracing or Tracing()
        self.upstream = breaker.upstream if breaker is not None else "llm"

    def _on_retry(self, attempt: int, exc: BaseException) -> None:
        log.warning("LLM call failed (%s); retry %d", type(exc).__name__, attempt,
                    extra={"upstream": self.upstream, "retry": attempt})
        if self.metrics is not None:
            self.metrics.llm_retries.labels(self.upstream).inc()

    def _fallback(self, exc: BaseException, delivered: bool) -> UpstreamError:
        reason = "interrupted" if delivered else (
            "circuit_open" if isinstance(exc, UpstreamUnavailable) else type(exc).__name__
        )
        log.error("LLM call failed for good (%s): answering with the fallback message", reason,
                  extra={"upstream": self.upstream, "error": str(exc)[:300]})
        if self.metrics is not None:
            self.metrics.llm_fallbacks.labels(reason).inc()
        if delivered:
            return UpstreamError(INTERRUPTED_MESSAGE, code="upstream_interrupted", status=502)
        if isinstance(exc, UpstreamError):
            return UpstreamError(FALLBACK_MESSAGE, code=exc.code, status=exc.status)
        if isinstance(exc, UpstreamTimeout):
            return UpstreamError(FALLBACK_MESSAGE, code="upstream_timeout", status=504)
        status = 503 if isinstance(exc, UpstreamUnavailable) else 502
        return UpstreamError(FALLBACK_MESSAGE, code="upstream_unavailable", status=status)

    async def stream(self, messages: list[ChatMessage], model: str) -> AsyncIterator[Delta | StreamEnd]:
        """The inner stream under the policy; see the module docstring."""
        started = time.perf_counter()
        ttft: float | None = None
        end: StreamEnd | None = None
        guarded = resilient_stream(
            lambda: self.inner.stream(messages, model), breaker=self.breaker, policy=self.policy,
            timeout_s=self.timeout_s, on_retry=self._on_retry, retryable=_retryable,
        )
        with self.tracing.llm_span(model) as span:
            try:
                async with contextlib.aclosing(guarded):
                    async for item in guarded:
                        if isinstance(item, Delta) and ttft is None:
                            ttft = time.perf_counter() - started
                            record_hop("llm", ttft)
                        if isinstance(item, StreamEnd):
                            end = item
                        yield item
            except Exception as exc:
                span.fail(exc)
                self._record(model, started, ttft, None, error=type(exc).__name__)
                raise self._fallback(exc, ttft is not None) from exc
            usage = end.usage if end is not None else None
            span.finish(response_model=end.model if end else None, ttft_s=ttft,
                        input_tokens=usage.prompt_tokens if usage else None,
                        output_tokens=usage.completion_tokens if usage else None)
        self._record(model, started, ttft, usage)

    async def complete(
        self, messages: list[ChatMessage], model: str, max_tokens: int | None = None
    ) -> Completion:
        """The whole answer under the policy."""
        started = time.perf_counter()
        with self.tracing.llm_span(model) as span:
            try:
                result = await resilient_call(
                    lambda: self.inner.complete(messages, model, max_tokens), breaker=self.breaker,
                    policy=self.policy, timeout_s=self.timeout_s, on_retry=self._on_retry,
                    retryable=_retryable,
                )
            except Exception as exc:
                span.fail(exc)
                self._record(model, started, None, None, error=type(exc).__name__)
                raise self._fallback(exc, False) from exc
            usage = result.usage
            span.finish(response_model=result.model, input_tokens=usage.prompt_tokens if usage else None,
                        output_tokens=usage.completion_tokens if usage else None)
        self._record(model, started, None, usage)
        record_hop("llm", time.perf_counter() - started)
        return result

    def _record(self, model: str, started: float, ttft: float | None, usage: Any, error: str = "") -> None:
        if self.metrics is None:
            return
        self.metrics.observe_llm_call(
            model, duration_s=time.perf_counter() - started, ttft_s=ttft, error_type=error,
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
        )

    async def close(self) -> None:
        """Close the client and flush spans still waiting for export."""
        await self.inner.close()
        self.tracing.shutdown()
