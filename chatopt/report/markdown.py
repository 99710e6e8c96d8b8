"""Markdown renderings: a run's report, a before/after comparison, the gate's PR summary."""

from __future__ import annotations

from collections.abc import Sequence

from chatopt.report.compare import Comparison
from chatopt.report.gate import GateStatus, GateVerdict
from chatopt.report.result import METRIC_NAMES, RunResult

METRIC_TITLES = {"ttft_ms": "TTFT", "itl_ms": "ITL", "tpot_ms": "TPOT", "e2e_ms": "E2E"}


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def describe_load(result: RunResult) -> str:
    load = result.load
    if load.mode == "open":
        shape = f"{load.rate:g} req/s {'Poisson' if load.poisson else 'constant'} arrivals"
    else:
        shape = f"{load.users} users (spawn {load.spawn_rate:g}/s)"
    if load.stages:
        shape += f" in {len(load.stages)} stages"
    return f"{shape}, {load.duration_s:g} s, {load.workers} generator process(es)"


def run_markdown(result: RunResult) -> str:
    """The report.md of one run."""
    lines = [
        f"# chatopt {result.kind}: {result.scenario.name} against {result.target.name}",
        "",
        f"- target: `{result.target.url}` ({result.target.mode}"
        + (f", model `{result.target.model}`" if result.target.model else "")
        + ")",
        f"- load: {describe_load(result)}",
        f"- when: {result.created}, chatopt {result.tool_version}",
        f"- verdict: **{'valid' if result.valid else 'INVALID'}**"
        + (" (interrupted)" if result.interrupted else ""),
    ]
    lines += [f"  - {reason}" for reason in result.invalid_reasons]
    requests = result.requests
    lines += [
        "",
        "## Requests",
        "",
        *_table(
            ["total", "ok", "failed", "error rate", "req/s", "output tok/s", "tokens from"],
            [
                [
                    f"{requests.total:,}",
                    f"{requests.ok:,}",
                    f"{requests.failed:,}",
                    f"{requests.error_rate:.2%}",
                    f"{result.throughput.requests_per_s:,.1f}",
                    f"{result.throughput.output_tokens_per_s:,.0f}",
                    result.tokens.source,
                ]
            ],
        ),
    ]
    if requests.errors_by_kind:
        lines += [
            "",
            "Errors: " + ", ".join(f"{kind} {count}" for kind, count in requests.errors_by_kind.items()),
        ]
    lines += ["", "## Latency (ms)", ""]
    rows = []
    for name in METRIC_NAMES:
        summary = result.metrics[name]
        rows.append(
            [METRIC_TITLES[name], f"{summary.count:,}"]
            + [ms(getattr(summary, p)) for p in ("p50", "p90", "p95", "p99", "mean", "max")]
        )
    lines += _table(["metric", "n", "p50", "p90", "p95", "p99", "mean", "max"], rows)
    health = result.generator
    lines += [
        "",
        "## Load generator health",
        "",
        f"CPU mean {health.cpu_percent_mean:.0f}% / max {health.cpu_percent_max:.0f}% of a core per process, "
        f"{health.processes} process(es); schedule lag P99 {ms(health.schedule_lag_ms.p99)} ms; "
        f"dropped arrivals {health.dropped_arrivals}; late arrivals {health.late_arrivals}.",
    ]
    if result.cache:
        lines += ["", "Cache header: " + ", ".join(f"{k} {v}" for k, v in sorted(result.cache.items()))]
    if result.routes:
        lines += [
            "",
            "Route/model header: " + ", ".join(f"{k} {v}" for k, v in sorted(result.routes.items())),
        ]
    lines += _extra_markdown(result)
    return "\n".join(lines) + "\n"


def _extra_markdown(result: RunResult) -> list[str]:
    lines: list[str] = []
    stress = result.extra.get("stress")
    if stress:
        lines += ["", "## Stress steps", "", f"SLO: `{stress['slo']}`", ""]
        lines += _table(
            [stress["load_label"], "req/s", "p95 TTFT ms", "error rate", "SLO"],
            [
                [
                    f"{row['load']:g}",
                    f"{row['requests_per_s']:.1f}",
                    ms(row["p95_ttft_ms"]),
                    f"{row['error_rate']:.2%}",
                    "met" if row["met"] else "broken: " + "; ".join(row["broken"]),
                ]
                for row in stress["steps"]
            ],
        )
        best = stress.get("highest_passing_load")
        lines += ["", f"Highest load meeting the SLO: **{best if best is not None else 'none'}**"]
    soak = result.extra.get("soak")
    if soak:
        lines += ["", "## Soak", "", f"Verdict: **{soak['verdict']}**", ""]
        rows = [
            [
                name,
                f"{trend['slope_per_1000_requests']:+.3f}",
                f"{trend['r_squared']:.2f}",
                f"{trend['start']:.1f}",
                f"{trend['end']:.1f}",
                "yes" if trend["leak"] else "no",
            ]
            for name, trend in soak["trends"].items()
        ]
        lines += _table(["series", "slope / 1k requests", "R²", "start", "end", "leak"], rows)
    return lines


def comparison_markdown(comparison: Comparison) -> str:
    """The report.md of ``chatopt compare``."""
    b, c = comparison.baseline, comparison.current
    lines = [
        f"# chatopt compare: {comparison.baseline_label} → {comparison.current_label}",
        "",
        f"- {comparison.baseline_label}: {b.target.url}, {b.scenario.name}, {describe_load(b)}, "
        f"{b.requests.total:,} requests, error rate {b.requests.error_rate:.2%}",
        f"- {comparison.current_label}: {c.target.url}, {c.scenario.name}, {describe_load(c)}, "
        f"{c.requests.total:,} requests, error rate {c.requests.error_rate:.2%}",
        f"- throughput: {b.throughput.requests_per_s:,.1f} → {c.throughput.requests_per_s:,.1f} req/s",
    ]
    lines += [f"- note: {note}" for note in comparison.notes]
    ci = f"{comparison.confidence:.0%} CI of Δ"
    lines += ["", "## Latency deltas (ms)", ""]
    rows = []
    for delta in comparison.deltas:
        interval = "–" if delta.ci_low is None else f"[{delta.ci_low:+.1f}, {delta.ci_high:+.1f}]"
        relative = "–" if delta.relative is None else f"{delta.relative:+.1%}"
        rows.append(
            [
                f"{METRIC_TITLES[delta.metric]} {delta.percentile}",
                ms(delta.baseline),
                ms(delta.current),
                "–" if delta.delta is None else f"{delta.delta:+.1f}",
                relative,
                interval,
                "yes" if delta.significant else "no",
            ]
        )
    lines += _table(
        ["metric", comparison.baseline_label, comparison.current_label, "Δ", "Δ%", ci, "significant"], rows
    )
    return "\n".join(lines) + "\n"


def gate_markdown(verdict: GateVerdict) -> str:
    """The gate's summary for a pull request (GitHub step summary)."""
    icon = {GateStatus.PASS: "✅", GateStatus.REGRESSION: "❌", GateStatus.INVALID: "⚠️"}[verdict.status]
    lines = [
        f"## {icon} chatopt gate: {verdict.label} (P95 {METRIC_TITLES.get(verdict.metric, verdict.metric)})",
        "",
    ]
    if verdict.baseline_p95_ms is not None:
        lines += _table(
            ["baseline P95", "current P95", "Δ", "Δ%", f"{verdict.confidence:.0%} CI of Δ", "limits"],
            [
                [
                    f"{verdict.baseline_p95_ms:.1f} ms",
                    f"{verdict.current_p95_ms:.1f} ms",
                    f"{verdict.delta_ms:+.1f} ms",
                    f"{verdict.relative:+.1%}",
                    f"[{verdict.ci_low_ms:+.1f}, {verdict.ci_high_ms:+.1f}] ms",
                    f"> {verdict.max_regression:.0%} and > {verdict.min_abs_ms:g} ms",
                ]
            ],
        )
        lines.append("")
    lines += [f"- {reason}" for reason in verdict.reasons]
    return "\n".join(lines) + "\n"
