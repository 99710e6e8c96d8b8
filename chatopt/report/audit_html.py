"""``audit.html``: the Markdown report's content as a self-contained page, plus the two plots."""

from __future__ import annotations

import html

from chatopt.audit.diagnosis import describe_impact, ranked_problems
from chatopt.audit.findings import AuditResult
from chatopt.audit.language import pick
from chatopt.report.audit_plots import context_growth, waterfall

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:1em 0}
th,td{border:1px solid #ddd;padding:.35em .5em;vertical-align:top;text-align:left}
th{background:#f4f4f4} .problem{color:#b00020;font-weight:600} .ok{color:#2e7d32}
.critical,.high{color:#b00020;font-weight:600} .medium{color:#e65100} code{font-size:.85em}
.diagnosis p{line-height:1.5} img{max-width:100%}
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def audit_html(result: AuditResult) -> str:
    """The report as one HTML page with embedded PNG plots."""
    lang = result.lang
    t = lambda en, pt: pick(lang, en, pt)  # noqa: E731
    parts = [
        f"<h1>{_e(t('chatopt audit', 'auditoria chatopt'))}: {_e(result.target['url'])}</h1>",
        f"<p>{_e(result.started_at)} · {result.duration_s:.0f} s · {result.requests_sent} "
        f"{_e(t('requests', 'requisições'))} · {_e(result.stack.describe())}</p>",
        f"<h2>{_e(t('Diagnosis', 'Diagnóstico'))}</h2><div class='diagnosis'>",
    ]
    parts += [f"<p>{_e(paragraph)}</p>" for paragraph in result.diagnosis.split("\n\n")]
    parts.append("</div>")
    problems = ranked_problems(result.findings)
    parts.append(f"<h2>{_e(t('Bottlenecks, ranked by impact', 'Gargalos, por impacto'))}</h2>")
    if problems:
        head = t(
            "#|check|SPEC|severity|finding|impact|fix|switch|confidence",
            "#|verificação|SPEC|severidade|achado|impacto|correção|switch|confiança",
        ).split("|")
        parts.append("<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>")
        for index, f in enumerate(problems, start=1):
            cells = [
                index,
                f"<code>{_e(f.check)}</code>",
                _e(f.spec_ref),
                f"<span class='{f.severity}'>{_e(f.severity)}</span>",
                f"<b>{_e(f.title)}</b>: {_e(f.cause)}",
                _e(describe_impact(f.impact, lang)),
                _e(f.fix),
                f"<code>{_e(f.switch or '-')}</code>",
                _e(f.confidence),
            ]
            parts.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        parts.append("</table>")
    else:
        parts.append(f"<p>{_e(t('No problem found.', 'Nenhum problema encontrado.'))}</p>")
    parts.append(
        f"<h2>{_e(t('Migration plan (zero downtime)', 'Plano de migração (sem downtime)'))}</h2><ol>"
    )
    for step in result.migration_plan:
        addresses = "; ".join(step["addresses"]) or "-"
        parts.append(
            f"<li><b>{_e(step['title'])}</b> (<code>{_e(', '.join(step['switches']))}</code>): "
            f"{_e(step['rollout'])}. {_e(t('Addresses', 'Resolve'))}: {_e(addresses)}</li>"
        )
    parts.append("</ol>")
    if result.waterfall is not None:
        parts.append(
            f"<h2>{_e(t('One turn, end to end', 'Um turno, de ponta a ponta'))}</h2>"
            f"<img alt='waterfall' src='{waterfall(result.waterfall)}'>"
        )
    if result.context_growth:
        parts.append(
            f"<h2>{_e(t('Context growth', 'Crescimento do contexto'))}</h2>"
            f"<img alt='context growth' src='{context_growth(result.context_growth)}'>"
        )
    parts.append(
        f"<h2>{_e(t('Every check', 'Todas as verificações'))}</h2><table><tr><th>check</th><th>SPEC</th>"
        "<th>status</th><th>result</th><th>evidence</th></tr>"
    )
    for f in result.findings:
        parts.append(
            f"<tr><td><code>{_e(f.check)}</code></td><td>{_e(f.spec_ref)}</td>"
            f"<td class='{'problem' if f.is_problem else 'ok'}'>{_e(f.status)}</td>"
            f"<td>{_e(f.title)}{': ' + _e(f.cause) if f.cause else ''}</td>"
            f"<td><code>{_e(f.evidence)}</code></td></tr>"
        )
    parts.append("</table>")
    title = _e(t("chatopt audit", "auditoria chatopt"))
    return (
        f"<!doctype html><html lang='{_e(lang)}'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )
