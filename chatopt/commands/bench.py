"""``chatopt bench``: a load test that speaks chat, with percentiles you can gate on."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chatopt.bench.collector import LiveStats
from chatopt.bench.load import parse_duration
from chatopt.bench.session import Prepared, build_plan, execute, prepare
from chatopt.errors import ChatoptError
from chatopt.report.files import write_run
from chatopt.report.markdown import METRIC_TITLES, ms
from chatopt.report.result import METRIC_NAMES, RunResult

console = Console(stderr=True)

TargetOption = Annotated[
    str | None,
    typer.Option("--target", "-t", help="Profile: openai, reference, reference-ws, or a YAML file."),
]
ModelOption = Annotated[
    str | None, typer.Option("--model", "-m", help="Model name for OpenAI-compatible targets.")
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option("--header", "-H", help="Extra header, repeatable: -H 'Authorization: Bearer TOKEN'."),
]
ScenarioOption = Annotated[
    str,
    typer.Option(
        "--scenario", "-s", help="Scenario name in scenarios/ (faq, conversations, ...) or a YAML file."
    ),
]
UsersOption = Annotated[
    int | None, typer.Option("--users", "-u", min=1, help="Closed loop: concurrent users.")
]
SpawnOption = Annotated[
    float | None, typer.Option("--spawn-rate", "-r", min=0.01, help="Users started per second.")
]
RateOption = Annotated[
    float | None,
    typer.Option("--rate", min=0.001, help="Open loop: requests per second, timed from the schedule."),
]
PoissonOption = Annotated[
    bool, typer.Option("--poisson", help="Open loop: Poisson arrivals instead of constant.")
]
StagesOption = Annotated[
    str | None,
    typer.Option(
        "--stages", help="Ramp as DURATION:USERS (or DURATION:RATE with --rate), e.g. 30s:10,1m:100."
    ),
]
InflightOption = Annotated[
    int,
    typer.Option("--max-inflight", min=1, help="Open loop: arrivals beyond this many in flight are dropped."),
]
WorkersOption = Annotated[
    int, typer.Option("--workers", "-w", min=1, help="Load-generator processes on this machine.")
]
TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", min=0.1, help="Seconds one chat answer may take before it counts as failed."),
]
InsecureOption = Annotated[
    bool, typer.Option("--insecure", help="Do not verify TLS certificates (test servers).")
]


def default_out(kind: str) -> Path:
    return Path("reports") / f"{kind}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"


@contextlib.contextmanager
def live_progress(title: str, duration_s: float) -> Iterator[Callable[[LiveStats], None]]:
    """A rich progress bar with users, RPS, live P95 TTFT and errors; yields the update callback."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[stats]}"),
        console=console,
        auto_refresh=False,
        transient=False,
    )
    task = progress.add_task(title, total=duration_s, stats="starting")

    def update(stats: LiveStats) -> None:
        p95 = "–" if stats.p95_ttft_ms is None else f"{stats.p95_ttft_ms:,.0f} ms"
        text = (
            f"users {stats.users}  {stats.rps:,.1f} req/s  P95 TTFT {p95}  "
            f"requests {stats.requests:,}  errors {stats.errors:,}"
        )
        progress.update(task, completed=min(stats.elapsed_s, duration_s), stats=text)
        progress.refresh()

    with progress:
        yield update


def print_summary(result: RunResult, out: Path | None) -> None:
    table = Table(title=f"{result.scenario.name} → {result.target.url}")
    table.add_column("metric")
    for column in ("n", "p50", "p90", "p95", "p99", "max"):
        table.add_column(column, justify="right")
    for name in METRIC_NAMES:
        summary = result.metrics[name]
        table.add_row(
            f"{METRIC_TITLES[name]} ms",
            f"{summary.count:,}",
            *(ms(getattr(summary, p)) for p in ("p50", "p90", "p95", "p99", "max")),
        )
    console.print(table)
    console.print(
        f"requests {result.requests.total:,} (failed {result.requests.failed:,}, "
        f"{result.requests.error_rate:.2%}), {result.throughput.requests_per_s:,.1f} req/s, "
        f"{result.throughput.output_tokens_per_s:,.0f} output tok/s ({result.tokens.source})"
    )
    if result.valid:
        console.print("[green]valid run[/green]")
    else:
        console.print(
            "[bold red]INVALID run:[/bold red] " + "; ".join(result.invalid_reasons), highlight=False
        )
    if out is not None:
        console.print(f"wrote {out}/result.json, samples.csv, report.md, report.html")


def bench(
    url: Annotated[str | None, typer.Argument(help="Chat backend URL, e.g. http://127.0.0.1:8000.")] = None,
    target: TargetOption = None,
    model: ModelOption = None,
    header: HeaderOption = None,
    scenario: ScenarioOption = "faq",
    users: UsersOption = None,
    spawn_rate: SpawnOption = None,
    rate: RateOption = None,
    poisson: PoissonOption = False,
    stages: StagesOption = None,
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="How long to apply load: 30s, 5m, 1h.")
    ] = "",
    max_inflight: InflightOption = 1000,
    workers: WorkersOption = 1,
    timeout: TimeoutOption = None,
    insecure: InsecureOption = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default reports/bench-TIME).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for conversation picks and Poisson gaps.")] = 1,
    master: Annotated[
        bool, typer.Option("--master", help="Wait for --expect-workers remote workers.")
    ] = False,
    expect_workers: Annotated[
        int, typer.Option("--expect-workers", min=0, help="Remote workers to wait for.")
    ] = 0,
    master_host: Annotated[
        str, typer.Option("--master-host", help="--master: interface to bind; --worker: master to join.")
    ] = "127.0.0.1",
    master_port: Annotated[int, typer.Option("--master-port", help="Port of the master.")] = 5557,
    worker: Annotated[
        bool, typer.Option("--worker", help="Run as a worker of a chatopt master elsewhere.")
    ] = False,
) -> None:
    """Load-test a chat backend: streaming TTFT, inter-token latency, E2E, errors.

    Closed loop (--users, --spawn-rate) simulates people chatting with think time;
    open loop (--rate, --poisson) sends requests on a fixed schedule and times each from
    its scheduled start, so overload shows up instead of hiding (no coordinated omission).
    One pre-flight message checks the target first. Ctrl-C stops and still writes the report.

    Examples:

      chatopt bench http://127.0.0.1:9100 --target openai --model gpt-4o-mini --users 20 -d 30s

      chatopt bench http://127.0.0.1:8000 --target reference -H 'Authorization: Bearer T' --rate 50 --poisson

      chatopt bench http://127.0.0.1:8000 --scenario conversations --stages 30s:10,30s:100 --workers 2
    """
    if worker:
        # the CLI already imported ssl users; gevent's warning about patching them late is expected
        warnings.filterwarnings("ignore", message="Monkey-patching ssl after ssl has already been imported")
        from chatopt.bench.worker import run_worker

        console.print(f"worker joining master {master_host}:{master_port}")
        run_worker(master_host, master_port)
        return
    if not url:
        raise ChatoptError(
            "give the chat backend URL", hint="e.g. chatopt bench http://127.0.0.1:8000 --target reference"
        )
    if master and expect_workers < 1:
        raise ChatoptError("--master needs --expect-workers N")
    if duration:
        parse_duration(duration)  # bad options fail before the pre-flight
    prepared = prepare(
        url,
        target_spec=target,
        model=model,
        headers=header or [],
        scenario_spec=scenario,
        timeout_s=timeout,
        insecure=insecure,
    )
    plan = build_plan(
        users=users,
        spawn_rate=spawn_rate,
        rate=rate,
        poisson=poisson,
        duration=duration,
        stages=stages,
        max_inflight=max_inflight,
        workers=workers,
        scenario=prepared.scenario,
    )
    report_preflight(prepared)
    out_dir = out or default_out("bench")
    with live_progress("bench", plan.duration_s) as update:
        result, samples = execute(
            prepared,
            plan,
            on_progress=update,
            expect_workers=expect_workers if master else 0,
            master_bind_host=master_host if master else "127.0.0.1",
            master_bind_port=master_port if master else None,
            seed=seed,
        )
    write_run(out_dir, result, samples)
    print_summary(result, out_dir)


def report_preflight(prepared: Prepared) -> None:
    exchange = prepared.preflight
    if exchange is None:
        return
    ttft = exchange.ttft_s or 0.0
    console.print(
        f"pre-flight ok: {prepared.target.name} answered in {exchange.mode} "
        f"(TTFT {ttft * 1000:,.0f} ms, {len(exchange.chunk_times)} chunks)",
        highlight=False,
    )
