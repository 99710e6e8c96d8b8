"""The diagnosis in SPEC's form: "Analyzed: [stack]; found N main bottlenecks: X, cause, impact ..."."""

from __future__ import annotations

from chatopt.audit.findings import SEVERITY_RANK, Finding, Impact, Stack
from chatopt.audit.language import pick

#: One dollar per 1,000 requests weighs like 100 ms per request when ranking.
MS_PER_USD_PER_1K = 100.0


def impact_score(finding: Finding) -> float:
    """Severity first, then the latency and money the problem costs."""
    impact = finding.impact or Impact()
    return (
        SEVERITY_RANK[finding.severity] * 10_000
        + (impact.ms_per_request or 0.0)
        + (impact.usd_per_1k_requests or 0.0) * MS_PER_USD_PER_1K
    )


def ranked_problems(findings: list[Finding]) -> list[Finding]:
    """Problems, most costly first."""
    return sorted((f for f in findings if f.is_problem), key=impact_score, reverse=True)


def describe_impact(impact: Impact | None, lang: str) -> str:
    """``1,234 ms per request; 56,000 tokens and $1.23 per 1,000 requests (why)``."""
    if impact is None:
        return pick(lang, "not measured", "não medido")
    parts = []
    if impact.ms_per_request is not None:
        parts.append(
            pick(
                lang,
                f"{impact.ms_per_request:,.0f} ms per request",
                f"{impact.ms_per_request:,.0f} ms por requisição",
            )
        )
    per_1k = []
    if impact.tokens_per_1k_requests is not None:
        per_1k.append(f"{impact.tokens_per_1k_requests:,.0f} tokens")
    if impact.usd_per_1k_requests is not None:
        per_1k.append(f"${impact.usd_per_1k_requests:,.2f}")
    if per_1k:
        parts.append(
            pick(
                lang,
                " and ".join(per_1k) + " per 1,000 requests",
                " e ".join(per_1k) + " por 1.000 requisições",
            )
        )
    text = "; ".join(parts)
    if impact.summary:
        text = f"{text} ({impact.summary})" if text else impact.summary
    return text or pick(lang, "not measured", "não medido")


def write_diagnosis(stack: Stack, findings: list[Finding], lang: str) -> str:
    """Two or three paragraphs: the ranked bottlenecks, what else was seen, where to start."""
    problems = ranked_problems(findings)
    main = [f for f in problems if SEVERITY_RANK[f.severity] >= SEVERITY_RANK["high"]] or problems[:3]
    minor = [f for f in problems if f not in main]
    if not problems:
        first = pick(
            lang,
            f"Analyzed: {stack.describe()}; found no main bottleneck among the checks that ran.",
            f"Analisado: {stack.describe()}; nenhum gargalo principal entre as verificações executadas.",
        )
    else:
        items = " ".join(
            pick(
                lang,
                f"({i}) {f.title}: cause {f.cause}; impact {describe_impact(f.impact, lang)}.",
                f"({i}) {f.title}: causa {f.cause}; impacto {describe_impact(f.impact, lang)}.",
            )
            for i, f in enumerate(main, start=1)
        )
        first = pick(
            lang,
            f"Analyzed: {stack.describe()}; found {len(main)} main bottleneck"
            f"{'s' if len(main) != 1 else ''}: {items}",
            f"Analisado: {stack.describe()}; encontrados {len(main)} gargalo"
            f"{'s' if len(main) != 1 else ''} principa{'is' if len(main) != 1 else 'l'}: {items}",
        )
    paragraphs = [first]
    ok = [f.title for f in findings if f.status == "ok"]
    unknown = [f.check for f in findings if f.status == "not_enough_data"]
    second = []
    if minor:
        second.append(
            pick(lang, "Also found: ", "Também encontrado: ") + "; ".join(f.title for f in minor) + "."
        )
    if ok:
        second.append(pick(lang, "Checked and fine: ", "Verificado e ok: ") + "; ".join(ok) + ".")
    if unknown:
        second.append(
            pick(lang, "Not enough data for: ", "Dados insuficientes para: ") + ", ".join(unknown) + "."
        )
    if second:
        paragraphs.append(" ".join(second))
    if problems:
        top = problems[0]
        paragraphs.append(
            pick(
                lang,
                f'Start with step 1 of the migration plan; the biggest win is "{top.title}": {top.fix}.',
                f'Comece pelo passo 1 do plano de migração; o maior ganho é "{top.title}": {top.fix}.',
            )
        )
    return "\n\n".join(paragraphs)
