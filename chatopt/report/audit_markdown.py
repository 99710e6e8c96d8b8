"""``audit.md``: the diagnosis, the ranked findings with evidence, the migration plan."""

from __future__ import annotations

import json

from chatopt.audit.diagnosis import describe_impact, ranked_problems
from chatopt.audit.findings import AuditResult, Finding
from chatopt.audit.language import pick


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _evidence(finding: Finding) -> str:
    return json.dumps(finding.evidence, ensure_ascii=False, default=str)


def audit_markdown(result: AuditResult) -> str:
    """The whole report as Markdown."""
    lang = result.lang
    t = lambda en, pt: pick(lang, en, pt)  # noqa: E731
    lines = [
        t(f"# chatopt audit: {result.target['url']}", f"# auditoria chatopt: {result.target['url']}"),
        "",
        t(
            f"{result.started_at} · {result.duration_s:.0f} s · {result.requests_sent} requests · tap: "
            f"{'yes' if result.tap_used else 'no'}",
            f"{result.started_at} · {result.duration_s:.0f} s · {result.requests_sent} requisições · tap: "
            f"{'sim' if result.tap_used else 'não'}",
        ),
        "",
        t("## Diagnosis", "## Diagnóstico"),
        "",
        result.diagnosis,
        "",
        t("## Bottlenecks, ranked by impact", "## Gargalos, por impacto"),
        "",
    ]
    problems = ranked_problems(result.findings)
    if problems:
        lines += [
            t(
                "| # | check | SPEC | severity | finding | impact | fix (switch) | confidence |",
                "| # | verificação | SPEC | severidade | achado | impacto | correção (switch) | confiança |",
            ),
            "|---|---|---|---|---|---|---|---|",
        ]
        for index, f in enumerate(problems, start=1):
            fix = f"{f.fix} (`{f.switch}`)" if f.switch else f.fix
            lines.append(
                f"| {index} | `{f.check}` | {f.spec_ref} | {f.severity} | {_cell(f.title)}: "
                f"{_cell(f.cause)} | {_cell(describe_impact(f.impact, lang))} | {_cell(fix)} | "
                f"{f.confidence} |"
            )
    else:
        lines.append(
            t("No problem found by the checks that ran.", "Nenhum problema nas verificações executadas.")
        )
    lines += ["", t("## Migration plan (zero downtime)", "## Plano de migração (sem downtime)"), ""]
    for step in result.migration_plan:
        addresses = "; ".join(step["addresses"]) or "-"
        lines.append(
            f"{step['order']}. **{step['title']}** (`{', '.join(step['switches'])}`): {step['rollout']}. "
            + t(f"Addresses: {addresses}.", f"Resolve: {addresses}.")
        )
    lines += [
        "",
        t("## Every check", "## Todas as verificações"),
        "",
        t(
            "| check | SPEC | status | result | evidence |",
            "| verificação | SPEC | status | resultado | evidências |",
        ),
        "|---|---|---|---|---|",
    ]
    for f in result.findings:
        lines.append(
            f"| `{f.check}` | {f.spec_ref} | {f.status} | {_cell(f.title)}"
            f"{': ' + _cell(f.cause) if f.cause and not f.is_problem else ''} | {_cell(_evidence(f))} |"
        )
    if result.context_growth:
        lines += [
            "",
            t("## Context growth", "## Crescimento do contexto"),
            "",
            t("| turn | prompt tokens | source |", "| turno | tokens do prompt | fonte |"),
            "|---|---|---|",
        ]
        lines += [f"| {p.turn} | {p.prompt_tokens:,} | {p.source} |" for p in result.context_growth]
    if result.waterfall:
        w = result.waterfall
        lines += [
            "",
            t("## One turn, end to end", "## Um turno, de ponta a ponta"),
            "",
            f"{w.label}: client TTFT {w.client_ttft_ms or 0:,.0f} ms, total {w.client_total_ms:,.0f} ms",
            "",
        ]
        lines += [
            f"- AI {c.label}: {c.start_ms:,.0f} -> {c.end_ms:,.0f} ms (status {c.status})" for c in w.calls
        ]
    return "\n".join(lines) + "\n"
