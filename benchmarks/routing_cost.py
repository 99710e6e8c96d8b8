"""The mixed scenario routed across small/medium/large vs the baseline's single large model.

Run: .venv/bin/python benchmarks/routing_cost.py [--conversations 1000] [--bad-answer-rate 0.05]
     [--latency-conversations 200]

Each conversation of ``scenarios/mixed.yaml`` (80% simple, 15% moderate, 5% complex,
EN + PT) is answered twice by the mock LLM (fast timings, real token counts and the
default tier prices): once through the router (classifier, quality check, escalation)
and once by the ``large`` model alone. The mock injects low-quality answers (refusal,
empty, too short) into a share of all calls, so escalations happen as they would in
production. Prints the share per tier, escalations, cost per 1,000 conversations for
both and their ratio, answer completeness for both, and the classifier's own latency.
Then, with the mock's realistic default latencies, streams a smaller sample both ways and
prints time to first token and whole-answer time (routed includes the light model's
hold-back and any escalation).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter

import numpy as np

from chatopt.bench.scenario import load_scenario
from chatopt.mockllm import MockConfig, MockLLMServer
from reference_server.llm.client import Delta, LLMClient
from reference_server.routing.classifier import classify
from reference_server.routing.prices import PriceTable
from reference_server.routing.quality import check_answer
from reference_server.routing.router import ModelRouter
from reference_server.settings import settings_for_profile

CONCURRENCY = 16


async def compare(base_url: str, messages: list[str]) -> None:
    settings = settings_for_profile("optimized", llm_base_url=base_url)
    llm = LLMClient(settings)
    router = ModelRouter.from_settings(settings)
    prices = PriceTable()
    gate = asyncio.Semaphore(CONCURRENCY)
    routed_cost = baseline_cost = 0.0
    routed_ok = baseline_ok = 0
    answered_by: Counter[str] = Counter()
    escalated = 0

    def conversation(message: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": settings.system_prompt}, {"role": "user", "content": message}]

    async def routed(message: str) -> None:
        nonlocal routed_cost, routed_ok, escalated
        async with gate:
            call = router.llm(llm, router.plan(message))
            result = await call.complete(conversation(message))
        routed_cost += call.outcome.cost_usd
        routed_ok += check_answer(result.text, result.finish_reason).ok
        answered_by[call.outcome.answered_by or "none"] += 1
        escalated += call.outcome.escalated

    async def baseline(message: str) -> None:
        nonlocal baseline_cost, baseline_ok
        async with gate:
            result = await llm.complete(conversation(message), settings.model_large)
        usage = result.usage
        baseline_cost += prices.cost_usd(settings.model_large, usage.prompt_tokens, usage.completion_tokens)
        baseline_ok += check_answer(result.text, result.finish_reason).ok

    try:
        await asyncio.gather(*(routed(m) for m in messages))
        await asyncio.gather(*(baseline(m) for m in messages))
    finally:
        await llm.close()
    count = len(messages)
    stats = router.stats
    print(f"{count} conversations of the mixed scenario")
    print("routing decisions: " + ", ".join(
        f"{tier} {100 * stats.decisions[tier] / count:.1f}%" for tier in ("simple", "moderate", "complex")))
    print("answered by: " + ", ".join(
        f"{model} {100 * n / count:.1f}%" for model, n in sorted(answered_by.items())))
    print(f"escalated conversations: {escalated} ({100 * escalated / count:.1f}%), by reason: "
          f"{dict(stats.escalations)}; error fallbacks: {dict(stats.fallbacks) or 'none'}")
    per_thousand_routed = 1000 * routed_cost / count
    per_thousand_baseline = 1000 * baseline_cost / count
    ratio = per_thousand_baseline / per_thousand_routed
    print(f"API cost per 1,000 conversations: routed ${per_thousand_routed:.4f} vs large-only "
          f"${per_thousand_baseline:.4f} -> {ratio:.1f}x cheaper (goal >= 5x)")
    print(f"complete answers (pass the quality check): routed {100 * routed_ok / count:.1f}% vs "
          f"large-only {100 * baseline_ok / count:.1f}%")


async def latency(base_url: str, messages: list[str]) -> None:
    settings = settings_for_profile("optimized", llm_base_url=base_url)
    llm = LLMClient(settings)
    router = ModelRouter.from_settings(settings)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def timed(stream) -> tuple[float, float]:
        started = time.perf_counter()
        first = float("nan")
        async for item in stream:
            if isinstance(item, Delta) and first != first:
                first = time.perf_counter() - started
        return 1000 * first, 1000 * (time.perf_counter() - started)

    async def one(message: str, routed: bool) -> tuple[float, float]:
        conversation = [
            {"role": "system", "content": settings.system_prompt},
            {"role": "user", "content": message},
        ]
        async with gate:
            if routed:
                return await timed(router.llm(llm, router.plan(message)).stream(conversation))
            return await timed(llm.stream(conversation, settings.model_large))

    try:
        for label, routed in (("routed", True), ("large only", False)):
            results = await asyncio.gather(*(one(m, routed) for m in messages))
            ttft = [r[0] for r in results]
            total = [r[1] for r in results]
            p50, p95 = np.percentile(ttft, 50), np.percentile(ttft, 95)
            mean_total = np.mean(total)
            print(f"{label:>10}: TTFT P50 {p50:.0f} ms, P95 {p95:.0f} ms; "
                  f"whole answer mean {mean_total:.0f} ms")
    finally:
        await llm.close()


def classifier_latency(messages: list[str]) -> None:
    timings = []
    for message in messages:
        started = time.perf_counter()
        classify(message, 4)
        timings.append((time.perf_counter() - started) * 1e6)
    print(f"classifier: P50 {np.percentile(timings, 50):.0f} us, P99 {np.percentile(timings, 99):.0f} us "
          f"(goal < 1000 us)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--bad-answer-rate", type=float, default=0.05, help="share of calls answered badly")
    parser.add_argument("--bad-answer-kind", choices=("refusal", "empty", "short"), default="refusal")
    parser.add_argument("--latency-conversations", type=int, default=200)
    args = parser.parse_args()
    scenario = load_scenario("mixed")
    rng = random.Random(42)
    messages = [scenario.pick(rng).messages(rng)[0] for _ in range(args.conversations)]
    classifier_latency(messages)
    faults = {"bad_answer_rate": args.bad_answer_rate, "bad_answer_kind": args.bad_answer_kind}
    config = MockConfig.fast(faults=faults)
    with MockLLMServer(config) as mock:
        asyncio.run(compare(mock.base_url, messages))
    print(f"streaming {args.latency_conversations} conversations with the mock's default latencies:")
    with MockLLMServer(MockConfig(faults=faults)) as mock:
        asyncio.run(latency(mock.base_url, messages[: args.latency_conversations]))


if __name__ == "__main__":
    main()
