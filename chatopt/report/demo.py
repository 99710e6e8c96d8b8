"""``comparison.md`` and ``comparison.html`` of ``chatopt demo``: headlines, ladder, plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from chatopt.audit.findings import AuditResult  # noqa: E402
from chatopt.demo.result import ConfigurationRun, DemoResult, Headline  # noqa: E402
from chatopt.report.html import markdown_to_html, page  # noqa: E402
from chatopt.report.plots import data_uri  # noqa: E402


def format_value(headline: Headline, value: float | None) -> str:
    """A headline figure in its unit, or a dash when it was not measured."""
    if value is None:
        return "—"
    if headline.unit == "ms":
        return f"{value:,.0f} ms"
    if headline.unit == "USD":
        return f"${value:,.4f}"
    if headline.unit == "%":
        return f"{value:.1f}%"
    return f"{value:,.0f}"


def _ladder_rows(result: DemoResult) -> list[str]:
    rows = [
        "| step | TTFT P50 | TTFT P95 | prompt tokens / request | cost / 1k conversations | cache hits |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in [result.before, *result.ladder]:
        outcome = run.scenarios[0] if run.scenarios else None
        if outcome is None:
            continue
        tokens = outcome.usage.prompt_tokens_per_request
        cost = outcome.cost_per_1k_conversations
        rows.append(
            f"| {run.label} | {outcome.ttft_p50_ms or 0:,.0f} ms | {outcome.ttft_p95_ms or 0:,.0f} ms | "
            f"{tokens or 0:,.0f} | {'—' if cost is None else f'${cost:,.3f}'} | "
            f"{100 * outcome.cache_hit_rate:.0f}% |"
        )
    return rows


def demo_markdown(result: DemoResult) -> str:
    """The comparison as Markdown: headline table, per-scenario figures, audits, ladder."""
    lines = [
        f"# chatopt demo — before/after ({result.mode})",
        "",
        f"Measured {result.created} on {result.machine} in {result.duration_s:.0f} s. "
        "Baseline is the reference server's honest 'before'; optimized turns every fix on. "
        "Upstream tokens and dollars come from chatopt tap between the server and the mock LLM.",
        "",
        "## Headline figures",
        "",
        "| figure | before | after | change | SPEC.md promised | measured on |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for headline in result.headlines:
        lines.append(
            f"| {headline.name} | {format_value(headline, headline.before)} | "
            f"{format_value(headline, headline.after)} | "
            f"{headline.change} | {headline.spec_promise} | {headline.measured_on} |"
        )
    lines += [
        "",
        "## Scenarios",
        "",
        "| profile | scenario | requests | failed | TTFT P50 | TTFT P95 | E2E P50 "
        "| upstream calls / request | valid |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in (result.before, result.after):
        for outcome in run.scenarios:
            per_request = outcome.usage.upstream_calls_per_request
            lines.append(
                f"| {run.label} | {outcome.scenario} | {outcome.requests} | {outcome.failed} | "
                f"{outcome.ttft_p50_ms or 0:,.0f} ms | {outcome.ttft_p95_ms or 0:,.0f} ms | "
                f"{outcome.e2e_p50_ms or 0:,.0f} ms | {per_request or 0:.2f} | "
                f"{'yes' if outcome.valid else 'NO'} |"
            )
    lines += ["", "## What the audit found", ""]
    for run in (result.before, result.after):
        problems = ", ".join(run.audit_problems) or "none"
        lines.append(
            f"- **{run.label}**: problems by SPEC reference: {problems} (report: `{run.audit_dir}/audit.md`)"
        )
    spec_tests = _spec_test_lines(result.after)
    if spec_tests:
        lines += ["", "## SPEC-sized tests (optimized)", "", *spec_tests]
    if result.ladder:
        lines += ["", "## The migration ladder (one step at a time, SPEC's order)", "", *_ladder_rows(result)]
    if result.interrupted:
        lines += ["", "**Interrupted**: figures cover only the steps that finished."]
    return "\n".join(lines) + "\n"


def _spec_test_lines(run: ConfigurationRun) -> list[str]:
    lines = []
    if run.big_load is not None:
        load = run.big_load
        error_rate = 100 * load.failed / load.requests if load.requests else 0.0
        lines.append(
            f"- **{load.purpose}** (mixed, {load.requests} requests): "
            f"TTFT P50 {load.ttft_p50_ms or 0:,.0f} ms, "
            f"P95 {load.ttft_p95_ms or 0:,.0f} ms, errors {error_rate:.2f}% (`{load.result_dir}`)"
        )
    if run.stress is not None:
        lines.append(
            f"- **stress** ({run.stress.slo}): highest load meeting the SLO: "
            f"{run.stress.max_users_meeting_slo} users (`{run.stress.result_dir}`)"
        )
    if run.soak is not None:
        slope = run.soak.rss_slope_per_1000_requests
        lines.append(
            f"- **soak** {run.soak.duration_s:.0f} s, {run.soak.requests} requests: {run.soak.verdict}"
            + ("" if slope is None else f" (RSS slope {slope:+.3f} MB per 1,000 requests)")
            + f" (`{run.soak.result_dir}`)"
        )
    return lines


def _ttft_distribution(result: DemoResult, out_dir: Path) -> str | None:
    figure, axis = plt.subplots(figsize=(8, 4))
    drawn = False
    for run in (result.before, result.after):
        outcome = run.scenario("mixed")
        if outcome is None:
            continue
        samples = pd.read_csv(out_dir / outcome.result_dir / "samples.csv")
        values = np.sort(samples["ttft_ms"].dropna().to_numpy())
        if values.size:
            axis.plot(values, np.linspace(0, 100, values.size), label=run.label)
            drawn = True
    if not drawn:
        plt.close(figure)
        return None
    axis.set_xscale("log")
    axis.set(xlabel="time to first token (ms, log)", ylabel="percentile", title="TTFT distribution, mixed")
    axis.axvline(1000, color="grey", linestyle=":", label="1 s")
    axis.legend()
    return data_uri(figure)


def _latency_over_time(result: DemoResult, out_dir: Path) -> str | None:
    figure, axis = plt.subplots(figsize=(8, 4))
    for run in (result.before, result.after):
        outcome = run.scenario("mixed")
        if outcome is None:
            continue
        samples = pd.read_csv(out_dir / outcome.result_dir / "samples.csv").dropna(subset=["ttft_ms"])
        axis.scatter(samples["t_s"], samples["ttft_ms"], s=6, alpha=0.5, label=run.label)
    axis.set_yscale("log")
    axis.set(xlabel="seconds into the run", ylabel="TTFT (ms, log)", title="Latency over time, mixed")
    axis.legend()
    return data_uri(figure)


def _context_growth(result: DemoResult, out_dir: Path) -> str | None:
    figure, axis = plt.subplots(figsize=(8, 4))
    drawn = False
    for run in (result.before, result.after):
        if not run.audit_dir:
            continue
        audit = AuditResult.model_validate_json((out_dir / run.audit_dir / "audit.json").read_text("utf-8"))
        if audit.context_growth:
            points = audit.context_growth
            axis.plot(
                [p.turn for p in points], [p.prompt_tokens for p in points], marker="o", label=run.label
            )
            drawn = True
    if not drawn:
        plt.close(figure)
        return None
    axis.set(
        xlabel="turn of the conversation",
        ylabel="prompt tokens sent to the AI",
        title="Tokens per request, turn by turn",
    )
    axis.legend()
    return data_uri(figure)


def _bars(labels: list[str], values: list[float], title: str, ylabel: str) -> str:
    figure, axis = plt.subplots(figsize=(max(6, 1.2 * len(labels)), 4))
    axis.bar(range(len(values)), values, color="#4C72B0")
    axis.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    axis.set(title=title, ylabel=ylabel)
    return data_uri(figure)


def _runs(result: DemoResult) -> list[ConfigurationRun]:
    return [result.before, *result.ladder] if result.ladder else [result.before, result.after]


def _stress_curves(result: DemoResult) -> str | None:
    runs = [run for run in (result.before, result.after) if run.stress and run.stress.curve]
    if not runs:
        return None
    figure, axis = plt.subplots(figsize=(8, 4))
    for run in runs:
        assert run.stress is not None
        points = [(row["load"], row["p95_ttft_ms"]) for row in run.stress.curve if row.get("p95_ttft_ms")]
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=run.label)
    axis.axhline(1000, color="grey", linestyle=":", label="SLO: P95 TTFT 1 s")
    axis.set_yscale("log")
    axis.set(xlabel="concurrent users", ylabel="P95 TTFT (ms, log)", title="Concurrency at the SLO")
    axis.legend()
    return data_uri(figure)


def demo_html(result: DemoResult, out_dir: Path) -> str:
    """The comparison page with its plots (images embedded, one self-contained file)."""
    runs = _runs(result)
    faq = [(run.label, run.scenario("faq") or run.scenario("mixed")) for run in (result.before, result.after)]
    images = [
        ("TTFT distribution before/after", _ttft_distribution(result, out_dir)),
        ("Latency over time", _latency_over_time(result, out_dir)),
        ("Tokens per request per turn", _context_growth(result, out_dir)),
        (
            "Cache hit rate",
            _bars(
                [label for label, o in faq if o],
                [100 * o.cache_hit_rate for _, o in faq if o],
                "Cache hit rate (faq)",
                "% of requests",
            ),
        ),
        (
            "Cost per 1,000 conversations",
            _bars(
                [run.label for run in runs],
                [(run.scenarios[0].cost_per_1k_conversations or 0) if run.scenarios else 0 for run in runs],
                "API cost per 1,000 conversations (mixed)",
                "USD",
            ),
        ),
        (
            "TTFT P50 per configuration",
            _bars(
                [run.label for run in runs],
                [(run.scenarios[0].ttft_p50_ms or 0) if run.scenarios else 0 for run in runs],
                "TTFT P50 (mixed)",
                "ms",
            ),
        ),
        ("Concurrency at SLO", _stress_curves(result)),
    ]
    return page("chatopt demo", markdown_to_html(demo_markdown(result)), images)


def write_demo_reports(result: DemoResult, out_dir: Path) -> list[Path]:
    """Write comparison.md and comparison.html next to demo.json."""
    markdown = out_dir / "comparison.md"
    markdown.write_text(demo_markdown(result), encoding="utf-8")
    html_file = out_dir / "comparison.html"
    html_file.write_text(demo_html(result, out_dir), encoding="utf-8")
    return [markdown, html_file]
