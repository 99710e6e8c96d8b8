"""The cache-eval HTML page: hit and false-hit rates per threshold as a plot and tables."""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from chatopt.cache_eval import CacheEvalResult, PairOutcome  # noqa: E402

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:right}th{background:#f3f3f3}td.text{text-align:left}tr.chosen{background:#eaf5ea;"
    "font-weight:bold}img{max-width:100%}"
)


def rates_plot(result: CacheEvalResult) -> str:
    """A PNG data URI: paraphrase hit rate and trap false-hit rate (with and without the guard)."""
    thresholds = [r.threshold for r in result.rows]
    figure, axis = plt.subplots(figsize=(10, 4.2))
    axis.plot(thresholds, [100 * r.hit_rate for r in result.rows], "o-", label="paraphrase hit rate")
    for language in sorted(result.rows[0].hit_rate_by_language):
        values = [100 * r.hit_rate_by_language[language] for r in result.rows]
        axis.plot(thresholds, values, ":", label=f"hit rate ({language})")
    axis.plot(thresholds, [100 * r.false_hit_rate for r in result.rows], "s-", color="crimson",
              label="trap false-hit rate")
    axis.plot(thresholds, [100 * r.false_hit_rate_without_guard for r in result.rows], "x--", color="salmon",
              label="false-hit rate without trap guard")
    axis.axhline(100 * result.target_hit_rate, color="green", linewidth=0.8, linestyle="--")
    axis.axhline(100 * result.target_false_hit_rate, color="crimson", linewidth=0.8, linestyle="--")
    axis.axvline(result.recommended, color="grey", linewidth=1)
    axis.set_xlabel("cosine threshold")
    axis.set_ylabel("% of pairs")
    axis.set_ylim(0, 100)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _pair_rows(outcomes: list[PairOutcome]) -> str:
    rows = []
    for outcome in outcomes:
        score = "exact" if outcome.exact else (f"{outcome.score:.3f}" if outcome.score is not None else "-")
        rows.append(
            f"<tr><td class=text>{html.escape(outcome.pair.kind)}</td><td>{outcome.pair.language}</td>"
            f"<td class=text>{html.escape(outcome.pair.a)}</td>"
            f"<td class=text>{html.escape(outcome.pair.b)}</td>"
            f"<td>{score}</td><td>{html.escape(outcome.vetoed_by or '')}</td></tr>"
        )
    return "".join(rows)


def cache_eval_html(result: CacheEvalResult) -> str:
    """A self-contained HTML page of ``result``."""
    languages = sorted(result.rows[0].hit_rate_by_language)
    head = "".join(f"<th>hit {lang}</th>" for lang in languages)
    rows = []
    for row in result.rows:
        chosen = " class=chosen" if row.threshold == result.recommended else ""
        by_language = "".join(f"<td>{_pct(row.hit_rate_by_language[lang])}</td>" for lang in languages)
        rows.append(
            f"<tr{chosen}><td>{row.threshold:.2f}</td><td>{_pct(row.hit_rate)}</td>{by_language}"
            f"<td>{_pct(row.false_hit_rate)}</td><td>{_pct(row.false_hit_rate_without_guard)}</td></tr>"
        )
    chosen_row = result.row(result.recommended)
    kinds = "".join(
        f"<tr><td class=text>{kind}</td><td>{count}</td><td>{chosen_row.false_hits_by_kind[kind]}</td></tr>"
        for kind, count in result.traps_by_kind.items()
    )
    verdict = "meets" if result.goals_met else "does NOT meet"
    pair_head = "<tr><th>kind</th><th>lang</th><th>cached</th><th>asked</th><th>cosine</th><th>veto</th></tr>"
    body = (
        f"<h1>Semantic cache evaluation</h1><p>{result.pairs} labelled pairs: {result.paraphrases} "
        f"paraphrases that should hit, {result.traps} traps that must not. Recommended threshold "
        f"<b>{result.recommended:.2f}</b>: hit rate {_pct(chosen_row.hit_rate)}, false-hit rate "
        f"{_pct(chosen_row.false_hit_rate)}; it {verdict} the goal "
        f"(hits &ge; {_pct(result.target_hit_rate)}, "
        f"false hits &le; {_pct(result.target_false_hit_rate)}).</p>"
        f'<img alt="rates per threshold" src="{rates_plot(result)}">'
        f"<h2>Per threshold</h2><table><tr><th>threshold</th><th>hit rate</th>{head}<th>false-hit rate</th>"
        f"<th>false hits without guard</th></tr>{''.join(rows)}</table>"
        f"<h2>Traps at {result.recommended:.2f}</h2><table><tr><th>kind</th><th>pairs</th><th>false hits</th>"
        f"</tr>{kinds}</table>"
        f"<h2>False hits at {result.recommended:.2f}</h2><table>{pair_head}"
        f"{_pair_rows(result.false_hits_at_recommended)}</table>"
        f"<h2>Missed paraphrases at {result.recommended:.2f}</h2><table>{pair_head}"
        f"{_pair_rows(result.misses_at_recommended)}</table>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>chatopt cache-eval</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>\n"
    )
