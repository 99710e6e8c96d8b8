"""``chatopt gate``: fail CI when P95 regresses against a baseline, beyond noise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from chatopt.errors import ChatoptError
from chatopt.report.compare import load_run
from chatopt.report.gate import GateMetric, GateStatus, parse_percent, run_gate
from chatopt.report.junit import gate_junit
from chatopt.report.markdown import gate_markdown

console = Console(stderr=True)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ChatoptError(f"cannot write {path}: {exc.strerror}") from exc


def gate(
    baseline: Annotated[Path, typer.Option("--baseline", "-b", help="Baseline result.json (or its folder).")],
    current: Annotated[Path, typer.Option("--current", "-c", help="Current result.json (or its folder).")],
    max_p95_regression: Annotated[
        str, typer.Option("--max-p95-regression", help="Largest allowed P95 growth, e.g. 10%.")
    ] = "10%",
    min_abs_ms: Annotated[
        float, typer.Option("--min-abs-ms", min=0, help="Ignore P95 growth smaller than this many ms.")
    ] = 20.0,
    metric: Annotated[GateMetric, typer.Option("--metric", help="ttft, e2e, itl or tpot.")] = "ttft",
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    summary: Annotated[
        Path | None,
        typer.Option("--summary", help="Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)."),
    ] = None,
    confidence: Annotated[
        float, typer.Option("--confidence", min=0.5, max=0.999, help="Confidence level.")
    ] = 0.95,
    resamples: Annotated[int, typer.Option("--resamples", min=100, help="Bootstrap resamples.")] = 2000,
) -> None:
    """Exit 0 when P95 holds, 1 on a regression, 2 when the input or a run is invalid.

    A regression must exceed BOTH limits and be significant: the bootstrap confidence
    interval of the P95 difference (from the raw samples) must lie above zero, so run to
    run noise does not fail the build. Runs the load generator marked invalid are refused.

    Example: chatopt gate --baseline base/result.json --current new/result.json
    --max-p95-regression 10% --min-abs-ms 20 --junit gate.xml --summary $GITHUB_STEP_SUMMARY
    """
    try:
        max_regression = parse_percent(max_p95_regression)
    except ValueError as exc:
        raise ChatoptError(f"bad --max-p95-regression {max_p95_regression!r}", hint="write e.g. 10%") from exc
    baseline_result, baseline_samples = load_run(baseline)
    current_result, current_samples = load_run(current)
    verdict = run_gate(
        baseline_result,
        current_result,
        baseline_samples,
        current_samples,
        metric=metric,
        max_regression=max_regression,
        min_abs_ms=min_abs_ms,
        confidence=confidence,
        resamples=resamples,
    )
    if junit is not None:
        _write(junit, gate_junit(verdict))
    if summary is not None:
        _write(summary, gate_markdown(verdict))
    colour = {GateStatus.PASS: "green", GateStatus.REGRESSION: "red", GateStatus.INVALID: "yellow"}[
        verdict.status
    ]
    console.print(f"[bold {colour}]gate: {verdict.label}[/bold {colour}]", highlight=False)
    for reason in verdict.reasons:
        console.print(f"  {reason}", highlight=False)
    raise typer.Exit(int(verdict.status))
