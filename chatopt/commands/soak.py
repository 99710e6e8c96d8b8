"""``chatopt soak``: hours of steady load with checkpoints and a leak verdict."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from chatopt.bench.load import parse_duration
from chatopt.bench.session import build_plan, execute, prepare
from chatopt.bench.soak import SoakMonitor, attach_memray, latency_series, soak_verdict
from chatopt.commands.bench import (
    HeaderOption,
    InflightOption,
    InsecureOption,
    ModelOption,
    PoissonOption,
    RateOption,
    SpawnOption,
    TargetOption,
    TimeoutOption,
    UsersOption,
    WorkersOption,
    console,
    default_out,
    live_progress,
    print_summary,
    report_preflight,
)
from chatopt.errors import ChatoptError
from chatopt.report.files import write_run


def parse_pids(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        return [int(part) for part in re.split(r"[,\s]+", text) if part]
    except ValueError as exc:
        raise ChatoptError(
            f"bad --pid {text!r}", hint="give process ids separated by commas or spaces, e.g. --pid 4242,4243"
        ) from exc


def soak(
    url: Annotated[str, typer.Argument(help="Chat backend URL.")],
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="How long to soak: 30m, 4h, 24h.")
    ] = "24h",
    pid: Annotated[
        str | None,
        typer.Option("--pid", help="Target process ids to watch, comma-separated (RSS, CPU, FDs, threads)."),
    ] = None,
    target: TargetOption = None,
    model: ModelOption = None,
    header: HeaderOption = None,
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Scenario name or YAML file.")] = "soak",
    users: UsersOption = None,
    spawn_rate: SpawnOption = None,
    rate: RateOption = None,
    poisson: PoissonOption = False,
    sample_every: Annotated[
        str, typer.Option("--sample-every", help="How often to read the target processes.")
    ] = "10s",
    checkpoint_every: Annotated[
        str,
        typer.Option(
            "--checkpoint-every", help="How often to append samples to disk (a crash loses at most this)."
        ),
    ] = "5m",
    warmup: Annotated[
        float,
        typer.Option("--warmup", min=0, max=0.9, help="Share of the run ignored by the leak fit (warm-up)."),
    ] = 0.2,
    min_requests: Annotated[
        int,
        typer.Option("--min-requests", min=10, help="Requests needed after warm-up before judging leaks."),
    ] = 1000,
    memray: Annotated[
        bool,
        typer.Option(
            "--memray", help="At the end, attach memray to each --pid for a 10 s allocation snapshot."
        ),
    ] = False,
    max_inflight: InflightOption = 1000,
    workers: WorkersOption = 1,
    timeout: TimeoutOption = None,
    insecure: InsecureOption = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default reports/soak-TIME).")
    ] = None,
) -> None:
    """Soak a chat backend for hours and say whether it leaks.

    Samples RSS, CPU, open FDs and threads of each --pid, appends raw samples and
    readings to DIR every --checkpoint-every (a crash loses at most one interval), and at
    the end fits each resource against requests served after warm-up: a leak is a slope
    above its limit per 1,000 requests with R² >= 0.5. P95 TTFT drift is reported too.

    Example: chatopt soak http://127.0.0.1:8000 --target reference -H 'Authorization: Bearer T'
    --duration 24h --pid $(pgrep -f 'chatopt serve') --out reports/soak
    """
    pids = parse_pids(pid)
    parse_duration(duration)  # bad options fail before the pre-flight
    sample_every_s, checkpoint_every_s = parse_duration(sample_every), parse_duration(checkpoint_every)
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
        stages=None,
        max_inflight=max_inflight,
        workers=workers,
        scenario=prepared.scenario,
    )
    report_preflight(prepared)
    out_dir = out or default_out("soak")
    monitor = SoakMonitor(
        out_dir,
        pids,
        sample_every_s=sample_every_s,
        checkpoint_every_s=checkpoint_every_s,
    )
    with live_progress("soak", plan.duration_s) as update:
        result, samples = execute(prepared, plan, on_progress=update, on_tick=monitor.tick, kind="soak")
    monitor.sample(len(samples), result.duration_s)
    monitor.checkpoint(samples, result.duration_s)
    verdict = soak_verdict(monitor, samples, warmup, min_requests)
    memray_notes = [attach_memray(p, out_dir) for p in pids if p not in monitor.exited] if memray else []
    series = {name: points for name, points in monitor.series().items() if name.startswith(("rss_mb", "fds"))}
    series["p95_ttft_ms"] = latency_series(samples)
    result.extra["soak"] = {
        **verdict.as_dict(),
        "pids": pids,
        "exited_pids": sorted(monitor.exited),
        "checkpoints": monitor.checkpoints,
        "warmup_fraction": warmup,
        "memray": memray_notes,
        "series": series,
    }
    if monitor.exited:
        result.invalid_reasons.append(f"target process(es) {sorted(monitor.exited)} exited during the soak")
        result.valid = False
    write_run(out_dir, result, samples)
    print_summary(result, out_dir)
    colour = "red" if verdict.verdict.startswith("leak") else "green"
    console.print(f"[bold {colour}]soak verdict: {verdict.verdict}[/bold {colour}]", highlight=False)
    for note in memray_notes:
        console.print(note, highlight=False)
