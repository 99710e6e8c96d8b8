"""The demo's headline figures: before vs after, with SPEC.md's promised figure beside each."""

from __future__ import annotations

from collections.abc import Callable

from chatopt.demo.result import ConfigurationRun, Headline, ScenarioOutcome


def _ratio(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "n/a"
    if after <= 0:
        return "∞x" if before > 0 else "="
    return f"{before / after:.1f}x"


def _reduction(before: float | None, after: float | None) -> str:
    if before is None or after is None or before <= 0:
        return "n/a"
    return f"{100 * (after - before) / before:+.0f}%"


def _figure(
    run: ConfigurationRun, scenario: str, read: Callable[[ScenarioOutcome], float | None]
) -> float | None:
    outcome = run.scenario(scenario)
    return read(outcome) if outcome is not None else None


def headlines(before: ConfigurationRun, after: ConfigurationRun) -> list[Headline]:
    """Headline rows from the two profile runs (absent measurements stay ``None``)."""
    rows: list[Headline] = []

    def add(name: str, unit: str, scenario: str, read, change, promise: str) -> None:
        b, a = _figure(before, scenario, read), _figure(after, scenario, read)
        rows.append(
            Headline(
                name=name,
                unit=unit,
                before=b,
                after=a,
                change=change(b, a),
                spec_promise=promise,
                measured_on=f"bench {scenario}",
            )
        )

    add("Perceived latency (TTFT P50)", "ms", "mixed", lambda o: o.ttft_p50_ms, _ratio, "5 s -> 200 ms (25x)")
    add(
        "TTFT P50 when the cache misses",
        "ms",
        "mixed",
        lambda o: o.ttft_p50_miss_ms,
        _ratio,
        "3-8 s -> 200-500 ms (streaming)",
    )
    add("TTFT P95 sustained", "ms", "mixed", lambda o: o.ttft_p95_ms, _ratio, "P95 < 1 s")
    add(
        "API cost per 1,000 conversations",
        "USD",
        "mixed",
        lambda o: o.cost_per_1k_conversations,
        _reduction,
        "-80%",
    )
    rows.append(_tokens_per_request(before, after))
    cache_scenario = "faq" if before.scenario("faq") or after.scenario("faq") else "mixed"
    add(
        "Cache hit rate",
        "%",
        cache_scenario,
        lambda o: 100 * o.cache_hit_rate,
        lambda b, a: "n/a" if b is None or a is None else f"{b:.0f}% -> {a:.0f}%",
        "0% -> 80%",
    )
    add(
        "Error rate",
        "%",
        "mixed",
        lambda o: 100 * o.failed / o.requests if o.requests else None,
        lambda b, a: "n/a" if b is None or a is None else f"{b:.2f}% -> {a:.2f}%",
        "< 0.1%",
    )
    if before.stress or after.stress:
        b = before.stress.max_users_meeting_slo if before.stress else None
        a = after.stress.max_users_meeting_slo if after.stress else None
        rows.append(
            Headline(
                name="Concurrent users at P95 TTFT < 1 s",
                unit="users",
                before=b,
                after=a,
                change=_ratio(a, b) if b else (f"0 -> {a}" if a is not None else "n/a"),
                spec_promise="100 -> 10,000",
                measured_on="chatopt stress mixed",
            )
        )
    return rows


def _tokens_per_request(before: ConfigurationRun, after: ConfigurationRun) -> Headline:
    """Prompt tokens per request, turn for turn, over the turns both configurations reached.

    A faster server gets further into a long conversation in the same time, and later
    turns carry more history, so means are compared turn by turn, not over all requests.
    """
    scenario = "long-conversation"
    b_run, a_run = before.scenario(scenario), after.scenario(scenario)
    turns = (
        sorted(set(b_run.prompt_tokens_by_turn) & set(a_run.prompt_tokens_by_turn)) if b_run and a_run else []
    )
    b = sum(b_run.prompt_tokens_by_turn[t] for t in turns) / len(turns) if turns else None
    a = sum(a_run.prompt_tokens_by_turn[t] for t in turns) / len(turns) if turns else None
    last = f"turns 1-{turns[-1] + 1}" if turns else "no common turns"
    return Headline(
        name="Prompt tokens per request",
        unit="tokens",
        before=b,
        after=a,
        change=_reduction(b, a),
        spec_promise="-70%",
        measured_on=f"bench {scenario}, {last}",
    )
