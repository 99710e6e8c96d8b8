"""``chatopt profile``: where a running backend spends its time and memory."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from chatopt.errors import ChatoptError
from chatopt.profiling.session import ProcessProfile, profile_process

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min)?\s*$")


def parse_duration(text: str) -> float:
    """``30s``, ``2m``, ``1.5min``, ``500ms`` or a bare number of seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ChatoptError(f"cannot read duration {text!r}", hint="write e.g. 30s, 2m or 45")
    value, unit = float(match.group(1)), match.group(2) or "s"
    seconds = value / 1000 if unit == "ms" else value * 60 if unit in ("m", "min") else value
    if seconds < 1:
        raise ChatoptError(f"duration {text!r} is too short", hint="profile for at least 1s")
    return seconds


def profile(
    pid: Annotated[
        int, typer.Option("--pid", "-p", help="Process to profile (any process; py-spy needs Python).")
    ],
    duration: Annotated[str, typer.Option("--duration", "-d", help="How long to sample: 30s, 2m...")] = "30s",
    rate: Annotated[int, typer.Option("--rate", help="py-spy samples per second.")] = 100,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between psutil samples.")] = 0.5,
    memray: Annotated[
        bool, typer.Option("--memray", help="Also attach memray for allocations (needs gdb/lldb and ptrace).")
    ] = False,
    no_pyspy: Annotated[bool, typer.Option("--no-pyspy", help="Only psutil (and memray) sampling.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the whole profile as JSON here.")
    ] = None,
) -> None:
    """Profile a running backend: CPU hot spots, event-loop blocking, memory growth.

    psutil samples RSS, open files and threads of any process.

    For Python, py-spy finds the hottest functions and splits the event-loop thread's
    time into waiting, CPU and blocked: sync I/O on the loop freezes every user at once.

    --memray adds allocation tracking (needs gdb or lldb and ptrace rights).
    Put load on the backend meanwhile (chatopt bench or chatopt audit).

    Example: chatopt profile --pid 4242 --duration 30s --out reports/profile.json
    """
    seconds = parse_duration(duration)
    if rate < 1 or rate > 1000:
        raise ChatoptError(f"--rate {rate} is out of range", hint="use 1-1000 samples per second")
    if interval <= 0:
        raise ChatoptError("--interval must be positive")
    console = Console()
    with Progress(
        TextColumn("profiling PID {task.fields[pid]}"),
        BarColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("profile", total=seconds, pid=pid)
        result = asyncio.run(
            profile_process(
                pid,
                seconds,
                rate=rate,
                interval_s=interval,
                use_pyspy=not no_pyspy,
                use_memray=memray,
                on_tick=lambda elapsed: progress.update(task, completed=elapsed),
            )
        )
    render_profile(console, result)
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(asdict(result), indent=2, default=str) + "\n", encoding="utf-8")
        except OSError as exc:
            raise ChatoptError(f"cannot write {out}: {exc.strerror}") from exc
        console.print(f"profile written to {out}", highlight=False)


def render_profile(console: Console, result: ProcessProfile) -> None:
    """Tables: the process over time, CPU hot spots, the event loop, allocations."""
    first, last = result.samples[0], result.samples[-1]
    process = Table(title=f"PID {result.pid} ({result.runtime or '?'}) over {result.duration_s:g}s")
    for column in ("metric", "start", "end", "trend /min"):
        process.add_column(column, justify="right" if column != "metric" else "left")
    rss = result.rss_trend
    process.add_row(
        "RSS MB",
        f"{first.rss_mb:,.1f}",
        f"{last.rss_mb:,.1f}",
        f"{rss.slope_per_min:+.2f} (R² {rss.r_squared:.2f})" if rss else "-",
    )
    fds = result.fd_trend
    process.add_row(
        "open FDs",
        str(first.fds if first.fds is not None else "-"),
        str(last.fds if last.fds is not None else "-"),
        f"{fds.slope_per_min:+.2f}" if fds else "-",
    )
    process.add_row("threads", str(first.threads), str(last.threads), "-")
    cpu = [s.cpu_percent for s in result.samples[1:]]
    process.add_row("CPU %", "-", f"{sum(cpu) / len(cpu):.0f} avg" if cpu else "-", "-")
    console.print(process)
    spy = result.pyspy
    if spy is not None:
        hot = Table(title=f"Hottest functions (py-spy, {spy.cpu_samples} CPU samples at {spy.rate}/s)")
        hot.add_column("function")
        hot.add_column("share", justify="right")
        for function, count in spy.top_functions[:12]:
            hot.add_row(function, f"{count / max(spy.cpu_samples, 1):.1%}")
        console.print(hot)
        loop = spy.loop
        if loop is None:
            console.print("no asyncio event loop thread found", highlight=False)
        else:
            blocked = loop.blocked_share
            console.print(
                f"event loop ({loop.thread}): busy {loop.busy_share:.0%}, on CPU "
                f"{loop.cpu_share:.0%}, blocked {blocked:.0%}, sync I/O {loop.sync_io_share:.0%}"
                if loop.cpu_share is not None and blocked is not None
                else f"event loop ({loop.thread}): busy {loop.busy_share:.0%}",
                highlight=False,
            )
            calls = loop.sync_io_calls or loop.blocking_calls
            if calls:
                table = Table(
                    title="Blocking on the event loop" if loop.sync_io_calls else "Busy off-CPU on the loop"
                )
                table.add_column("call")
                table.add_column("loop samples", justify="right")
                for call, count in calls[:8]:
                    table.add_row(call, str(count))
                console.print(table)
    memory = result.memray
    if memory is not None:
        table = Table(
            title=f"Allocations (memray): {memory.allocations:,} allocations, {memory.allocated_mb:,.1f} MB, "
            f"peak {memory.peak_mb:,.1f} MB"
        )
        table.add_column("location")
        table.add_column("MB", justify="right")
        for location, size in memory.top_by_size:
            table.add_row(location, f"{size:,.2f}")
        console.print(table)
    for note in result.notes:
        console.print(f"[yellow]{note}[/yellow]", highlight=False)
