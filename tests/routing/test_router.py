"""Routing against the mock LLM with faults injected per model: decisions, escalation, fallback, cost."""

from __future__ import annotations

import pytest

from reference_server.llm.client import Delta, LLMClient, StreamEnd, UpstreamError
from reference_server.routing.cooldown import ModelCooldown
from reference_server.routing.router import ModelRouter
from reference_server.settings import settings_for_profile

FAQ = [{"role": "user", "content": "How do I reset my password?"}]
CODE = [{"role": "user", "content": "Refactor this:\n```python\ndef f(x):\n    return x*2\n```"}]


@pytest.fixture
async def llm(mock):
    client = LLMClient(settings_for_profile("optimized", llm_base_url=mock.base_url, llm_timeout_s=5))
    yield client
    await client.close()


@pytest.fixture
def router() -> ModelRouter:
    settings = settings_for_profile("optimized")
    return ModelRouter.from_settings(settings, first_token_timeout_s=2.0)


async def collect(stream) -> tuple[str, StreamEnd]:
    parts, end = [], None
    async for item in stream:
        if isinstance(item, Delta):
            parts.append(item.text)
        else:
            end = item
    return "".join(parts), end


def plan_for(router: ModelRouter, messages):
    return router.plan(messages[-1]["content"], len(messages) - 1)


async def test_simple_question_is_answered_by_the_small_model_and_costed(router, llm, mock):
    routed = router.llm(llm, plan_for(router, FAQ))
    result = await routed.complete(FAQ)
    assert routed.plan.header == "small; reason=short-faq"
    assert mock.injector.requests == ["small"]
    assert routed.outcome.answered_by == "small" and not routed.outcome.escalated
    expected = router.prices.cost_usd("small", result.usage.prompt_tokens, result.usage.completion_tokens)
    assert routed.outcome.cost_usd == pytest.approx(expected) and expected > 0
    assert router.stats.cost_usd["small"] == pytest.approx(expected)


async def test_complex_question_goes_straight_to_the_large_model(router, llm, mock):
    routed = router.llm(llm, plan_for(router, CODE))
    await routed.complete(CODE)
    assert routed.plan.header.startswith("large; reason=code")
    assert mock.injector.requests == ["large"]


@pytest.mark.parametrize(
    ("kind", "reason"), [("empty", "empty"), ("refusal", "refusal"), ("short", "too-short")]
)
async def test_weak_light_answers_escalate_to_the_next_tier(router, llm, mock, kind, reason):
    mock.injector.faults["small"] = f"bad-answer={kind}"
    routed = router.llm(llm, plan_for(router, FAQ))
    result = await routed.complete(FAQ)
    assert mock.injector.requests == ["small", "medium"]
    assert routed.outcome.answered_by == "medium" and result.model == "medium"
    assert router.stats.escalations[reason] == 1
    assert len(result.text.split()) > 10


@pytest.mark.parametrize("kind", ["refusal", "empty", "short"])
async def test_streamed_weak_light_answer_never_reaches_the_user(router, llm, mock, kind):
    mock.injector.faults["small"] = f"bad-answer={kind}"
    routed = router.llm(llm, plan_for(router, FAQ))
    text, end = await collect(routed.stream(FAQ))
    assert mock.injector.requests == ["small", "medium"]
    assert end.model == "medium" and end.finish_reason == "stop"
    assert not text.startswith(("I'm sorry", "It depends"))
    assert routed.outcome.escalated


async def test_truncated_answers_escalate_until_the_top_model(router, llm, mock):
    routed = router.llm(llm, plan_for(router, FAQ))
    result = await routed.complete(FAQ, max_tokens=5)
    assert mock.injector.requests == ["small", "medium", "large"]
    assert router.stats.escalations["truncated"] == 2
    assert result.model == "large"


@pytest.mark.parametrize("fault", ["error=503", "error=500", "rate-limit=1"])
async def test_upstream_errors_fall_back_and_cool_the_model_down(router, llm, mock, fault):
    mock.injector.faults["small"] = fault
    routed = router.llm(llm, plan_for(router, FAQ))
    text, end = await collect(routed.stream(FAQ))
    assert end.model == "medium" and text
    assert sum(router.stats.fallbacks.values()) == 1
    assert not router.cooldown.available("small")
    mock.injector.requests.clear()
    again = router.llm(llm, plan_for(router, FAQ))
    await again.complete(FAQ)
    assert mock.injector.requests == ["medium"]  # the small model rests


async def test_no_first_token_in_time_falls_back(llm, mock):
    router = ModelRouter.from_settings(settings_for_profile("optimized"), first_token_timeout_s=0.3)
    mock.injector.faults["small"] = "slow-first-token=3000"
    routed = router.llm(llm, plan_for(router, FAQ))
    _, end = await collect(routed.stream(FAQ))
    assert end.model == "medium"
    assert router.stats.fallbacks["first_token_timeout"] == 1


async def test_a_cut_before_anything_was_shown_falls_back(router, llm, mock):
    mock.injector.faults["small"] = "cut=3"
    routed = router.llm(llm, plan_for(router, FAQ))
    _, end = await collect(routed.stream(FAQ))
    assert end.model == "medium"


async def test_never_retry_after_tokens_reached_the_user(router, llm, mock):
    mock.injector.faults["large"] = "cut=20"
    routed = router.llm(llm, plan_for(router, CODE))
    received: list[str] = []
    with pytest.raises(UpstreamError):
        async for item in routed.stream(CODE):
            if isinstance(item, Delta):
                received.append(item.text)
    assert received
    assert mock.injector.requests == ["large"]


async def test_all_models_failing_reports_an_upstream_error(llm, mock):
    router = ModelRouter.from_settings(settings_for_profile("optimized"), cooldown=ModelCooldown(60))
    for model in ("small", "medium", "large"):
        mock.injector.faults[model] = "error=503"
    routed = router.llm(llm, plan_for(router, FAQ))
    with pytest.raises(UpstreamError):
        await routed.complete(FAQ)
    assert mock.injector.requests == ["small", "medium", "large"]
    assert set(router.cooldown.resting()) == {"small", "medium", "large"}


async def test_streamed_cost_counts_every_token_when_the_upstream_reports_no_usage():
    from chatopt import tokens
    from tests.reference_server.upstream import FakeUpstream, ServerThread, upstream_app

    fake = FakeUpstream()
    fake.script.report_usage = False
    fake.script.answer_words = 80  # far beyond the hold-back
    thread = ServerThread(upstream_app(fake))
    thread.start()
    client = LLMClient(settings_for_profile("optimized", llm_base_url=f"{thread.url}/v1", llm_timeout_s=5))
    try:
        router = ModelRouter.from_settings(settings_for_profile("optimized"))
        routed = router.llm(client, plan_for(router, FAQ))
        text, end = await collect(routed.stream(FAQ))
    finally:
        await client.close()
        thread.stop()
    assert end.usage is None and len(text.split()) > 80
    expected = router.prices.cost_usd(
        "small", tokens.count_messages(FAQ, model="small"), tokens.count_text(text, model="small")
    )
    assert routed.outcome.cost_usd == pytest.approx(expected)
