"""``chatopt demo``: the whole before/after story on one machine, no API key, no services."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from chatopt.bench.load import parse_duration
from chatopt.demo.plan import plan_for
from chatopt.demo.result import DemoResult
from chatopt.demo.runner import DemoOptions, run_demo, steps_in
from chatopt.errors import ChatoptError
from chatopt.report.demo import format_value, write_demo_reports


def demo(
    quick: Annotated[
        bool, typer.Option("--quick", help="About 3 minutes: fewer, shorter runs; no ladder.")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="SPEC-sized: 1,000 users, stress to the breaking point, a soak.")
    ] = False,
    soak: Annotated[str, typer.Option("--soak", help="Soak length for --full, e.g. 10m or 24h.")] = "10m",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Report folder (default reports/TIMESTAMP/).")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="Run the optimized server on this Redis.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Run the optimized server on this database.")
    ] = None,
    mock_config: Annotated[
        Path | None,
        typer.Option(
            "--mock-config", help="Mock LLM latency/price YAML (see chatopt mock-llm --print-config)."
        ),
    ] = None,
) -> None:
    """Show what each fix buys: mock LLM, reference server before and after, audits, benches.

    Starts a mock OpenAI-compatible LLM and the reference server in its baseline
    profile, audits and load-tests it, does the same for the optimized profile, then
    (by default) climbs SPEC's migration ladder one switch at a time. Writes demo.json,
    comparison.md and comparison.html (with plots) to --out and ends with the headline
    figures next to what SPEC.md promised.
    """
    if quick and full:
        raise ChatoptError("choose --quick or --full, not both")
    mode = "quick" if quick else "full" if full else "default"
    plan = plan_for(mode, soak_s=parse_duration(soak))
    out_dir = out or Path("reports") / datetime.now().strftime("%Y%m%d-%H%M%S")
    if mock_config is not None and not mock_config.is_file():
        raise ChatoptError(
            f"no mock config at {mock_config}", hint="chatopt mock-llm --print-config > mock.yaml"
        )
    options = DemoOptions(
        out_dir=out_dir, redis_url=redis_url, database_url=database_url, mock_config=mock_config
    )
    console = Console()
    console.print(f"[bold]chatopt demo[/bold] ({mode}) → {out_dir}")
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("starting", total=steps_in(plan))
        started = False

        def step(description: str) -> None:
            nonlocal started
            if started:
                progress.advance(task)
            started = True
            progress.update(task, description=description)

        result = run_demo(plan, options, step)
        progress.update(task, completed=steps_in(plan), description="done")
    paths = write_demo_reports(result, out_dir)
    _print_headlines(console, result)
    console.print("Reports: " + ", ".join(str(path) for path in [out_dir / "demo.json", *paths]))


def _print_headlines(console: Console, result: DemoResult) -> None:
    table = Table(title="Before → after (measured just now)", title_justify="left")
    for column in ("figure", "baseline", "optimized", "change", "SPEC.md promised"):
        table.add_column(column)
    for headline in result.headlines:
        table.add_row(
            headline.name,
            format_value(headline, headline.before),
            format_value(headline, headline.after),
            headline.change,
            headline.spec_promise,
        )
    console.print(table)
