"""The guarded LLM seam against the mock LLM with injected faults: retries, breaker, alert, fallback."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chatopt.mockllm import MockConfig
from reference_server.llm.client import Delta, LLMClient, UpstreamError
from reference_server.observability.alerts import Alerter
from reference_server.observability.metrics import ServerMetrics
from reference_server.security.llm_guard import GuardedLLM
from reference_server.security.resilience import (
    FALLBACK_MESSAGE,
    INTERRUPTED_MESSAGE,
    BreakerState,
    CircuitBreaker,
    RetryPolicy,
)
from reference_server.settings import settings_for_profile
from tests.reference_server.upstream import ServerThread

MESSAGES = [{"role": "user", "content": "hello"}]
FAST_RETRIES = RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.02)


def _metric(metrics: ServerMetrics, name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
def webhook():
    received: list[dict] = []

    async def hook(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"ok": True})

    thread = ServerThread(Starlette(routes=[Route("/alert", hook, methods=["POST"])]))
    thread.start()
    try:
        yield f"{thread.url}/alert", received
    finally:
        thread.stop()


def _guarded(base_url: str, metrics: ServerMetrics, breaker: CircuitBreaker | None = None) -> GuardedLLM:
    settings = settings_for_profile("optimized", llm_base_url=base_url)
    return GuardedLLM(LLMClient(settings), breaker=breaker, policy=FAST_RETRIES, metrics=metrics, timeout_s=5)


async def test_failing_upstream_retries_then_opens_the_breaker_alerts_and_falls_back(start_mock_llm, webhook):
    mock = start_mock_llm(MockConfig.fast(faults={"error_rate": 1.0, "error_status": 503}))
    url, received = webhook
    metrics = ServerMetrics()
    alerter = Alerter(metrics, url)
    breaker = CircuitBreaker("mock", min_calls=4, cooldown_s=60, on_transition=alerter.breaker_transition)
    llm = _guarded(mock.base_url, metrics, breaker)
    try:
        for _ in range(4):  # one breaker outcome per call, after its retries
            with pytest.raises(UpstreamError) as failed:
                await llm.complete(MESSAGES, "gpt-4o-mini")
            assert failed.value.message == FALLBACK_MESSAGE and "Traceback" not in failed.value.message
        assert breaker.state is BreakerState.OPEN
        with pytest.raises(UpstreamError) as fast_fail:
            await llm.complete(MESSAGES, "gpt-4o-mini")
        await alerter.drain()
    finally:
        await llm.close()
    assert fast_fail.value.message == FALLBACK_MESSAGE and fast_fail.value.status == 503
    assert _metric(metrics, "chatopt_llm_retries_total", {"upstream": "mock"}) == 4 * FAST_RETRIES.max_retries
    assert _metric(metrics, "chatopt_llm_fallbacks_total", {"reason": "circuit_open"}) == 1
    assert _metric(metrics, "chatopt_circuit_breaker_state", {"upstream": "mock"}) == 2
    assert _metric(metrics, "chatopt_alerts_total", {"kind": "circuit_open"}) == 1
    assert received and received[0]["kind"] == "circuit_open" and received[0]["upstream"] == "mock"


async def test_a_stream_cut_after_the_first_tokens_is_never_retried(start_mock_llm):
    mock = start_mock_llm(MockConfig.fast(faults={"cut_rate": 1.0, "cut_after_tokens": 3}))
    metrics = ServerMetrics()
    llm = _guarded(mock.base_url, metrics)
    received: list[str] = []
    try:
        with pytest.raises(UpstreamError) as interrupted:
            async for item in llm.stream(MESSAGES, "gpt-4o-mini"):
                if isinstance(item, Delta):
                    received.append(item.text)
    finally:
        await llm.close()
    assert received and interrupted.value.message == INTERRUPTED_MESSAGE
    assert _metric(metrics, "chatopt_llm_retries_total", {"upstream": "llm"}) == 0


async def test_twenty_percent_failures_are_absorbed_by_retries(start_mock_llm):
    mock = start_mock_llm(MockConfig.fast(seed=3, faults={"error_rate": 0.2}))
    metrics = ServerMetrics()
    llm = _guarded(mock.base_url, metrics)
    answers = []
    try:
        for i in range(25):
            completion = await llm.complete([{"role": "user", "content": f"question {i}"}], "gpt-4o-mini")
            answers.append(completion.text)
    finally:
        await llm.close()
    assert len(answers) == 25 and all(answers)
    assert _metric(metrics, "chatopt_llm_retries_total", {"upstream": "llm"}) > 0
    count = _metric(metrics, "gen_ai_client_operation_duration_seconds_count",
                    {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai",
                     "gen_ai_request_model": "gpt-4o-mini", "error_type": ""})
    assert count == 25
