"""``chatopt compare``: before/after with deltas and bootstrap confidence intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from chatopt.report.compare import compare_runs, load_run
from chatopt.report.files import prepare_out_dir
from chatopt.report.html import comparison_html
from chatopt.report.markdown import METRIC_TITLES, comparison_markdown, ms

console = Console(stderr=True)


def compare(
    baseline: Annotated[Path, typer.Argument(help="The 'before' result.json (or its folder).")],
    current: Annotated[Path, typer.Argument(help="The 'after' result.json (or its folder).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write report.md, report.html, comparison.json.")
    ] = None,
    labels: Annotated[
        str, typer.Option("--labels", help="Names of the two runs, comma-separated.")
    ] = "before,after",
    confidence: Annotated[
        float, typer.Option("--confidence", min=0.5, max=0.999, help="Confidence level.")
    ] = 0.95,
    resamples: Annotated[int, typer.Option("--resamples", min=100, help="Bootstrap resamples.")] = 2000,
) -> None:
    """Compare two runs: P50/P95/P99 of TTFT, ITL, TPOT and E2E with bootstrap CIs.

    A delta is marked significant when its confidence interval excludes zero.
    Example: chatopt compare reports/baseline/result.json reports/optimized/result.json --out reports/cmp
    """
    names = [name.strip() for name in labels.split(",")]
    if len(names) != 2 or not all(names):
        names = ["before", "after"]
    baseline_result, baseline_samples = load_run(baseline)
    current_result, current_samples = load_run(current)
    with console.status("bootstrapping confidence intervals"):
        comparison = compare_runs(
            baseline_result,
            current_result,
            baseline_samples,
            current_samples,
            labels=(names[0], names[1]),
            confidence=confidence,
            resamples=resamples,
        )
    table = Table(title=f"{names[0]} → {names[1]}")
    for column in ("metric", names[0], names[1], "Δ ms", "Δ %", f"{confidence:.0%} CI", "significant"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for delta in comparison.deltas:
        table.add_row(
            f"{METRIC_TITLES[delta.metric]} {delta.percentile}",
            ms(delta.baseline),
            ms(delta.current),
            "–" if delta.delta is None else f"{delta.delta:+.1f}",
            "–" if delta.relative is None else f"{delta.relative:+.1%}",
            "–" if delta.ci_low is None else f"[{delta.ci_low:+.1f}, {delta.ci_high:+.1f}]",
            "yes" if delta.significant else "no",
        )
    console.print(table)
    for note in comparison.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    if out is not None:
        directory = prepare_out_dir(out)
        (directory / "report.md").write_text(comparison_markdown(comparison), encoding="utf-8")
        (directory / "report.html").write_text(
            comparison_html(comparison, baseline_samples, current_samples), encoding="utf-8"
        )
        (directory / "comparison.json").write_text(
            comparison.model_dump_json(indent=2, by_alias=True), encoding="utf-8"
        )
        console.print(f"wrote {directory}/report.md, report.html, comparison.json")
