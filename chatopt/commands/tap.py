"""``chatopt tap``: a recording proxy between a chat backend and its AI provider."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chatopt.errors import ChatoptError
from chatopt.tap import AICall, TapServer, parse_fault


def tap(
    upstream: Annotated[
        str,
        typer.Option(
            "--upstream", "-u", help="The real AI provider base URL, e.g. https://api.openai.com/v1."
        ),
    ],
    port: Annotated[int, typer.Option("--port", "-p", help="Port the tap listens on (127.0.0.1).")] = 9200,
    trace: Annotated[Path, typer.Option("--trace", "-t", help="JSONL file: one line per AI call.")] = Path(
        "tap-trace.jsonl"
    ),
    fault: Annotated[
        list[str] | None,
        typer.Option("--fault", help="Inject upstream faults on chat calls: 500, 503x3 (next 3), delay=35."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
    rows: Annotated[int, typer.Option("--rows", help="How many recent calls the live table shows.")] = 15,
) -> None:
    """Record every AI call a backend makes, without changing a byte of it.

    Point the backend's OPENAI_BASE_URL at http://127.0.0.1:PORT/v1 and use it as usual.

    Each call (model, stream flag, messages, exact prompt/completion tokens, whether the
    whole conversation was re-sent, TTFT, duration, status) goes to the --trace JSONL
    file and to the live table.

    Example: chatopt tap --upstream http://127.0.0.1:9100/v1 --port 9200
    """
    try:
        faults = [parse_fault(spec) for spec in fault or []]
    except ValueError as exc:
        raise ChatoptError(str(exc)) from exc
    if port < 1 or port > 65535:
        raise ChatoptError(f"port {port} is out of range", hint="use 1-65535")
    trace.parent.mkdir(parents=True, exist_ok=True)
    console = Console()
    totals = TapTotals()
    server = TapServer(upstream, port, trace_path=trace, on_call=totals.add)
    for item in faults:
        server.proxy.faults.arm(item)
    server.start()
    console.print(
        f"tap listening: set [bold]OPENAI_BASE_URL={server.base_url}[/bold]; forwarding to {upstream}; "
        f"trace -> {trace}  (Ctrl-C to stop)",
        highlight=False,
    )
    deadline = None if duration is None else time.monotonic() + duration
    try:
        with Live(render_calls([], totals), console=console, refresh_per_second=4) as live:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.25)
                live.update(render_calls(server.proxy.calls[-rows:], totals))
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    console.print(f"{len(server.proxy.calls)} AI calls recorded in {trace}", highlight=False)


@dataclass
class TapTotals:
    """Running totals of the calls seen, kept as they are recorded (the table never rescans them)."""

    calls: int = 0
    chats: int = 0
    prompt_tokens: int = 0
    followups: int = 0
    full_history: int = 0

    def add(self, call: AICall) -> None:
        self.calls += 1
        if call.kind != "chat":
            return
        self.chats += 1
        self.prompt_tokens += call.prompt_tokens or 0
        if call.full_history is not None and (call.turn or 1) > 1:
            self.followups += 1
            self.full_history += bool(call.full_history)


def render_calls(recent: list[AICall], totals: TapTotals) -> Group:
    """The live view: the most recent calls and running totals."""
    table = Table(title="AI calls through the tap", expand=False)
    for column in (
        "#",
        "time",
        "kind",
        "model",
        "stream",
        "msgs",
        "prompt tok",
        "compl tok",
        "full history",
        "TTFT ms",
        "total ms",
        "status",
    ):
        table.add_column(column, justify="right" if column not in ("kind", "model", "time") else "left")
    for call in recent:
        table.add_row(
            str(call.id),
            time.strftime("%H:%M:%S", time.localtime(call.started_at)),
            call.kind,
            call.model or "-",
            _yes_no(call.stream),
            _number(call.message_count),
            _number(call.prompt_tokens),
            _number(call.completion_tokens),
            _yes_no(call.full_history),
            _number(call.ttft_ms),
            _number(call.duration_ms),
            Text(str(call.status), style="green" if call.status < 400 else "red"),
        )
    summary = Text(
        f"{totals.calls} calls, {totals.chats} chat; prompt tokens {totals.prompt_tokens:,}; "
        f"full history re-sent on {totals.full_history} of {totals.followups} follow-up turns",
    )
    return Group(table, summary)


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
