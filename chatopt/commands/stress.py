"""``chatopt stress``: raise the load step by step until the SLO breaks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chatopt.bench.collector import LiveStats
from chatopt.bench.load import parse_duration
from chatopt.bench.session import prepare
from chatopt.bench.slo import parse_slo
from chatopt.bench.stress import StepOutcome, StepPlan, run_stress, stress_summary
from chatopt.commands.bench import (
    HeaderOption,
    InflightOption,
    InsecureOption,
    ModelOption,
    ScenarioOption,
    TargetOption,
    TimeoutOption,
    WorkersOption,
    console,
    default_out,
    live_progress,
    report_preflight,
)
from chatopt.errors import ChatoptError
from chatopt.report.files import write_run
from chatopt.report.markdown import ms


def stress(
    url: Annotated[str, typer.Argument(help="Chat backend URL.")],
    slo: Annotated[
        str,
        typer.Option("--slo", help="Objectives every step must meet, e.g. 'p95_ttft<=1s,error_rate<=0.1%'."),
    ] = "p95_ttft<=1s,error_rate<=0.1%",
    target: TargetOption = None,
    model: ModelOption = None,
    header: HeaderOption = None,
    scenario: ScenarioOption = "faq",
    start_users: Annotated[
        int, typer.Option("--start-users", min=1, help="Closed loop: users of the first step.")
    ] = 10,
    step_users: Annotated[int, typer.Option("--step-users", min=1, help="Users added per step.")] = 10,
    max_users: Annotated[int, typer.Option("--max-users", min=1, help="Stop stepping here.")] = 1000,
    start_rate: Annotated[
        float | None, typer.Option("--start-rate", min=0.01, help="Open loop: req/s of the first step.")
    ] = None,
    step_rate: Annotated[
        float, typer.Option("--step-rate", min=0.01, help="Open loop: req/s added per step.")
    ] = 10.0,
    max_rate: Annotated[
        float, typer.Option("--max-rate", min=0.01, help="Open loop: stop stepping here.")
    ] = 2000.0,
    step_duration: Annotated[
        str, typer.Option("--step-duration", help="How long each step holds its load.")
    ] = "30s",
    spawn_rate: Annotated[
        float, typer.Option("--spawn-rate", "-r", min=0.01, help="Users started per second.")
    ] = 50.0,
    max_inflight: InflightOption = 1000,
    workers: WorkersOption = 1,
    timeout: TimeoutOption = None,
    insecure: InsecureOption = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default reports/stress-TIME).")
    ] = None,
) -> None:
    """Find the breaking point: step users (or the arrival rate) up until the SLO breaks.

    Each step is a full run held for --step-duration; the sweep stops at the first step
    that breaks the SLO and reports the highest load that met it, with the throughput
    and latency curve (report.html) and every step's raw samples under steps/.

    Examples:

      chatopt stress http://127.0.0.1:8000 --target reference --slo 'p95_ttft<=1s' --step-users 50

      chatopt stress http://127.0.0.1:9100 --target openai --start-rate 50 --step-rate 50 --step-duration 20s
    """
    objectives = parse_slo(slo)
    open_loop = start_rate is not None
    steps = StepPlan(
        mode="open" if open_loop else "closed",
        start=start_rate if open_loop else start_users,
        step=step_rate if open_loop else step_users,
        maximum=max_rate if open_loop else max_users,
        step_duration_s=parse_duration(step_duration),
    )
    if not steps.loads():
        raise ChatoptError("the first step is above the maximum", hint="lower --start-* or raise --max-*")
    prepared = prepare(
        url,
        target_spec=target,
        model=model,
        headers=header or [],
        scenario_spec=scenario,
        timeout_s=timeout,
        insecure=insecure,
    )
    report_preflight(prepared)
    out_dir = out or default_out("stress")
    unit = "users" if steps.mode == "closed" else "req/s"
    written: list[float] = []

    def step_done(step: StepOutcome) -> None:
        directory = out_dir / "steps" / f"{len(written):02d}-{step.load:g}"
        written.append(step.load)
        write_run(directory, step.result, step.samples, plots=False)
        verdict = (
            "[green]met[/green]"
            if step.met
            else "[red]broken[/red]: " + "; ".join(step.broken + step.result.invalid_reasons)
        )
        console.print(
            f"step {step.load:g} {unit}: {step.result.throughput.ok_requests_per_s:,.1f} req/s, "
            f"P95 TTFT {ms(step.result.metrics['ttft_ms'].p95)} ms, "
            f"errors {step.result.requests.error_rate:.2%} "
            f"→ {verdict}",
            highlight=False,
        )

    planned = steps.loads()
    with live_progress("stress", steps.step_duration_s * len(planned)) as update:
        offset = {"s": 0.0}

        def progress(stats: LiveStats) -> None:
            update(replace(stats, elapsed_s=offset["s"] + stats.elapsed_s))

        def on_step(index: int, load: float) -> None:
            offset["s"] = index * steps.step_duration_s

        outcome = run_stress(
            prepared,
            steps,
            objectives,
            spawn_rate=spawn_rate,
            max_inflight=max_inflight,
            workers=workers,
            on_step=on_step,
            on_progress=progress,
            on_step_done=step_done,
        )
    if not outcome.steps:
        raise ChatoptError("no step ran")
    best = outcome.highest_passing
    headline = best or outcome.steps[0]
    result = headline.result.model_copy(deep=True)
    result.kind = "stress"
    result.extra["stress"] = stress_summary(outcome, slo, steps.mode)
    write_run(out_dir, result, headline.samples)
    table = Table(title=f"stress: {slo}")
    for column in (unit, "req/s", "P95 TTFT ms", "errors", "SLO"):
        table.add_column(column, justify="right")
    for row in result.extra["stress"]["steps"]:
        table.add_row(
            f"{row['load']:g}",
            f"{row['requests_per_s']:,.1f}",
            ms(row["p95_ttft_ms"]),
            f"{row['error_rate']:.2%}",
            "met" if row["met"] else "broken",
        )
    console.print(table)
    if best is None:
        console.print(
            f"[bold red]no step met the SLO[/bold red]; the first step ({headline.load:g} {unit}) broke it"
        )
    else:
        console.print(f"[bold green]highest load meeting the SLO: {best.load:g} {unit}[/bold green]")
    console.print(f"wrote {out_dir}/result.json, report.md, report.html, steps/")
