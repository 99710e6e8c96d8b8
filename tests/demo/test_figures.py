"""Headline figures, upstream accounting and the migration ladder of chatopt demo."""

from __future__ import annotations

import pytest

from chatopt.audit.prices import PriceTable
from chatopt.demo.accounting import usage_of
from chatopt.demo.headlines import headlines
from chatopt.demo.plan import MIGRATION_LADDER, plan_for
from chatopt.demo.result import ConfigurationRun, ScenarioOutcome
from chatopt.tap.calls import AICall
from reference_server.settings import SWITCHES


def call(model: str, prompt: int, completion: int, kind: str = "chat", **extra) -> AICall:
    return AICall(
        id=1,
        started_at=0.0,
        method="POST",
        path="/v1/chat/completions",
        kind=kind,
        status=200,
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        **extra,
    )


def outcome(
    scenario: str,
    *,
    ttft: float,
    requests: int = 100,
    hits: int = 0,
    cost_calls=(),
    by_turn=None,
    conversations: int = 100,
    failed: int = 0,
) -> ScenarioOutcome:
    return ScenarioOutcome(
        scenario=scenario,
        purpose="",
        result_dir="x",
        valid=True,
        requests=requests,
        failed=failed,
        conversations=conversations,
        ttft_p50_ms=ttft,
        ttft_p95_ms=ttft * 2,
        e2e_p50_ms=ttft * 3,
        ttft_p50_miss_ms=ttft,
        cache_hits=hits,
        usage=usage_of(list(cost_calls), requests),
        prompt_tokens_by_turn=by_turn or {},
    )


def test_usage_prefers_server_usage_and_prices_each_model():
    calls = [
        call("large", 1000, 100),
        call("small", 1000, 100, usage_prompt_tokens=2000, usage_completion_tokens=200),
        call("text-embedding-3-small", 5, 0, kind="embeddings"),
    ]
    usage = usage_of(calls, user_requests=2)
    prices = PriceTable()
    expected = prices.price_of("large").cost(1000, 100) + prices.price_of("small").cost(2000, 200)
    assert usage.prompt_tokens == 3000 and usage.completion_tokens == 300
    assert usage.cost_usd == pytest.approx(expected)
    assert usage.chat_calls == 2 and usage.embedding_calls == 1
    assert usage.prompt_tokens_per_request == 1500
    assert usage.cost_per_1k_requests == pytest.approx(500 * expected)


def test_headlines_compare_like_with_like():
    before = ConfigurationRun(
        label="baseline",
        switches={},
        scenarios=[
            outcome("mixed", ttft=5000, cost_calls=[call("large", 100, 100)] * 100),
            outcome("faq", ttft=4000),
            outcome("long-conversation", ttft=5000, by_turn={0: 100, 1: 300, 2: 500}),
        ],
    )
    after = ConfigurationRun(
        label="optimized",
        switches={},
        scenarios=[
            outcome("mixed", ttft=200, cost_calls=[call("small", 100, 100)] * 20),
            outcome("faq", ttft=5, hits=80),
            # further into the conversation in the same time: turns 3+ must not count
            outcome("long-conversation", ttft=200, by_turn={0: 100, 1: 150, 2: 200, 3: 5000, 4: 9000}),
        ],
    )
    rows = {row.name: row for row in headlines(before, after)}
    assert rows["Perceived latency (TTFT P50)"].change == "25.0x"
    assert rows["Cache hit rate"].before == 0 and rows["Cache hit rate"].after == 80
    tokens = rows["Prompt tokens per request"]
    assert tokens.before == pytest.approx(300) and tokens.after == pytest.approx(150)
    assert tokens.change == "-50%" and "turns 1-3" in tokens.measured_on
    cost = rows["API cost per 1,000 conversations"]
    assert cost.after < cost.before and cost.change.startswith("-")


def test_missing_measurements_stay_empty_rather_than_invented():
    empty = ConfigurationRun(label="baseline", switches={})
    rows = headlines(empty, empty)
    assert all(row.before is None and row.after is None and row.change == "n/a" for row in rows)


def test_ladder_switches_every_fix_once_in_spec_order():
    added = [name for step in MIGRATION_LADDER for name in step.adds]
    assert sorted(added) == sorted(SWITCHES) and len(added) == len(set(added))
    order = [added.index(name) for name in ("cache", "streaming", "routing", "tiered_storage", "monitoring")]
    assert order == sorted(order)
    assert all(step.rollback for step in MIGRATION_LADDER)


def test_quick_plan_is_smaller_than_default_and_full():
    quick, default, full = plan_for("quick"), plan_for("default"), plan_for("full", soak_s=60)

    def load_seconds(plan):
        return sum(load.duration_s for load in plan.scenarios)

    assert load_seconds(quick) < load_seconds(default) <= load_seconds(full)
    assert quick.ladder_scenario is None and default.ladder_scenario is not None
    assert full.big_load_users == 1000 and full.soak_s == 60


def test_cache_hit_rate_falls_back_to_mixed_traffic_when_no_faq_run():
    before = ConfigurationRun(label="baseline", switches={}, scenarios=[outcome("mixed", ttft=5000)])
    after = ConfigurationRun(label="optimized", switches={}, scenarios=[outcome("mixed", ttft=5, hits=70)])
    cache = next(row for row in headlines(before, after) if row.name == "Cache hit rate")
    assert cache.after == 70 and cache.measured_on == "bench mixed"
