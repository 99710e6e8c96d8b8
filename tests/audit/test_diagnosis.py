"""Ranking, the SPEC-form diagnosis and the migration plan, from findings alone."""

from __future__ import annotations

from chatopt.audit.diagnosis import ranked_problems, write_diagnosis
from chatopt.audit.findings import Finding, Impact, Stack
from chatopt.audit.plan import migration_plan
from chatopt.audit.prices import PriceTable, parse_price

STACK = Stack(url="http://x/api/chat", server="uvicorn", transport="json", ai_api="OpenAI-compatible API")


def _problem(
    check: str, spec_ref: str, severity: str, switch: str | None, ms: float = 0, usd: float = 0
) -> Finding:
    return Finding(
        check=check,
        spec_ref=spec_ref,
        status="problem",
        severity=severity,
        title=check,
        cause="c",
        impact=Impact(ms_per_request=ms, usd_per_1k_requests=usd),
        fix="f",
        switch=switch,
    )


FINDINGS = [
    _problem("cache.repeat", "P2", "high", "cache", ms=300, usd=2),
    _problem("streaming.present", "P1", "critical", "streaming", ms=2000),
    _problem("monitoring.signals", "monitoring", "medium", "monitoring"),
    _problem("model.routing", "P3", "high", "routing", usd=40),
    Finding(check="transport.fingerprint", spec_ref="transport", status="ok", title="Transport"),
    Finding(check="memory.rss", spec_ref="memory", status="not_enough_data", title="Not enough data"),
]


def test_problems_rank_by_severity_then_cost() -> None:
    assert [f.check for f in ranked_problems(FINDINGS)] == [
        "streaming.present",
        "model.routing",
        "cache.repeat",
        "monitoring.signals",
    ]


def test_diagnosis_names_the_main_bottlenecks_in_order() -> None:
    text = write_diagnosis(STACK, FINDINGS, "en")
    assert text.startswith(
        "Analyzed: uvicorn, json over HTTP, OpenAI-compatible API; found 3 main bottlenecks:"
    )
    assert (
        text.index("(1) streaming.present") < text.index("(2) model.routing") < text.index("(3) cache.repeat")
    )
    assert "Also found: monitoring.signals." in text and "Not enough data for: memory.rss." in text
    portuguese = write_diagnosis(STACK, FINDINGS, "pt-BR")
    assert portuguese.startswith("Analisado: ") and "encontrados 3 gargalos principais" in portuguese


def test_migration_plan_follows_spec_order_and_only_what_was_found() -> None:
    steps = migration_plan(FINDINGS, "en")
    assert [step.switches[0] for step in steps] == ["cache", "streaming", "routing", "monitoring"]
    assert [step.order for step in steps] == [1, 2, 3, 4]
    assert migration_plan([], "pt-BR")[0].title == "Monitoramento completo"


def test_user_prices_override_the_mock_tiers() -> None:
    model, price = parse_price("my-model=1/2:small")
    table = PriceTable({model: price})
    assert table.price_of("my-model").cost(1_000_000, 1_000_000) == 3.0
    assert table.tier_of("gpt-4") == "large" and table.price_of("gpt-4o-mini").input_per_million == 0.15
