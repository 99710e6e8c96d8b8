"""A zero-downtime migration plan tailored to the findings, in SPEC's order.

SPEC's order is cache -> streaming -> routing -> DB -> monitoring; the context window
follows routing, and the Phase 2 hardening comes before full monitoring. A step is in
the plan only when a finding calls for it; monitoring is always last, because it is
how each step's effect is measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from chatopt.audit.findings import Finding
from chatopt.audit.language import pick


@dataclass(frozen=True)
class _Step:
    key: str
    switches: tuple[str, ...]
    spec_refs: tuple[str, ...]
    title_en: str
    title_pt: str
    rollout_en: str
    rollout_pt: str


STEPS = (
    _Step(
        "cache",
        ("cache",),
        ("P2",),
        "Caching layer (non-breaking)",
        "Camada de cache (sem quebra)",
        "add the cache beside the AI call behind a flag; run it in shadow mode (lookup, log hit rate, still "
        "call the AI) for a day, then serve hits; rollback = flag off",
        "adicione o cache ao lado da chamada à IA atrás de uma flag; rode em modo sombra (consulta, mede "
        "acertos, ainda chama a IA) por um dia, depois sirva os acertos; rollback = desligar a flag",
    ),
    _Step(
        "streaming",
        ("streaming",),
        ("P1", "transport"),
        "Streaming (backward compatible)",
        "Streaming (compatível com versões anteriores)",
        "add an SSE/WebSocket answer next to the JSON one; clients opt in with Accept: text/event-stream; "
        "the page renders chunks into the same element, so nothing changes visually",
        "adicione a resposta SSE/WebSocket ao lado da JSON; clientes aderem com Accept: text/event-stream; "
        "a página renderiza os chunks no mesmo elemento, sem mudança visual",
    ),
    _Step(
        "routing",
        ("routing",),
        ("P3",),
        "Model routing (gradual rollout)",
        "Roteamento de modelos (gradual)",
        "route 5% of users, compare answer quality and cost, then 25/50/100%; fallback to the big model "
        "when the light one fails a quality check",
        "roteie 5% dos usuários, compare qualidade e custo, depois 25/50/100%; fallback ao modelo grande "
        "quando o leve falhar na checagem de qualidade",
    ),
    _Step(
        "context",
        ("context_window",),
        ("P4",),
        "Context window and summaries",
        "Janela de contexto e resumos",
        "build the windowed prompt in parallel with the full one, compare answers offline, then switch; "
        "summaries are computed in the background and only read when present",
        "monte o prompt com janela em paralelo ao completo, compare as respostas offline e troque; resumos "
        "são calculados em segundo plano e só usados quando existem",
    ),
    _Step(
        "database",
        ("async_io", "tiered_storage"),
        ("P5", "P7"),
        "Async path and DB optimization (background migrations)",
        "Caminho assíncrono e banco (migrações em segundo plano)",
        "create indexes CONCURRENTLY, add LIMIT/cursor pagination, move blocking calls off the event loop "
        "one endpoint at a time behind flags; dual-write the hot tier to Redis before reading from it",
        "crie índices CONCURRENTLY, adicione LIMIT/paginação por cursor, tire chamadas bloqueantes do loop "
        "um endpoint por vez atrás de flags; escreva em dobro no Redis antes de ler dele",
    ),
    _Step(
        "hardening",
        ("rate_limits", "input_validation", "resilience"),
        ("rate-limit", "validation", "errors", "memory"),
        "Limits, validation and error handling",
        "Limites, validação e tratamento de erros",
        "start rate limits and validation in log-only mode, check who would be refused, then enforce; "
        "add timeouts, retries and the fallback message before the circuit breaker",
        "comece limites e validação só registrando, veja quem seria recusado e então aplique; adicione "
        "timeouts, retries e a mensagem de fallback antes do circuit breaker",
    ),
    _Step(
        "monitoring",
        ("monitoring",),
        ("monitoring",),
        "Full monitoring",
        "Monitoramento completo",
        "export P50/P95/P99, TTFT, cache hit rate and error rate; alert on the KPIs; gate releases on P95 "
        "(chatopt gate) so every step above is measured before the next",
        "exporte P50/P95/P99, TTFT, taxa de cache e de erro; alertas nos KPIs; bloqueie releases pelo P95 "
        "(chatopt gate) para medir cada passo antes do próximo",
    ),
)


@dataclass(frozen=True)
class PlanStep:
    """One step of the plan, with the findings it addresses."""

    order: int
    title: str
    switches: list[str]
    rollout: str
    addresses: list[str]


def migration_plan(findings: list[Finding], lang: str) -> list[PlanStep]:
    """The steps the findings call for, numbered in SPEC's order."""
    problems = [f for f in findings if f.is_problem]
    steps: list[PlanStep] = []
    for step in STEPS:
        hits = [
            f
            for f in problems
            if (f.switch in step.switches) or (f.switch is None and f.spec_ref in step.spec_refs)
        ]
        if not hits and step.key != "monitoring":
            continue
        steps.append(
            PlanStep(
                order=len(steps) + 1,
                title=pick(lang, step.title_en, step.title_pt),
                switches=list(step.switches),
                rollout=pick(lang, step.rollout_en, step.rollout_pt),
                addresses=[f.title for f in hits],
            )
        )
    return steps


def plan_as_dicts(steps: list[PlanStep]) -> list[dict]:
    return [asdict(step) for step in steps]
