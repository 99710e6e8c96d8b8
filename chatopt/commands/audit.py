"""``chatopt audit``: a forensic diagnosis of a live chat backend (SPEC Phase 0)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chatopt.audit.checks import ALL_CHECKS
from chatopt.audit.diagnosis import describe_impact, ranked_problems
from chatopt.audit.findings import AuditResult
from chatopt.audit.language import check_language, pick
from chatopt.audit.prices import PriceTable, parse_price
from chatopt.audit.runner import intrusive_probes, run_audit
from chatopt.audit.session import AuditOptions
from chatopt.errors import ChatoptError
from chatopt.report.audit_files import write_audit_reports
from chatopt.targets import load_target, parse_header

_CHECK_LIST = "; ".join(check.id for check in ALL_CHECKS)


def _list_checks(value: bool) -> None:
    if not value:
        return
    table = Table(title="chatopt audit checks (details: docs/CHECKS.md)")
    for column in ("id", "SPEC", "intrusive", "what it does"):
        table.add_column(column)
    for check in ALL_CHECKS:
        table.add_row(check.id, check.spec_ref, check.intrusive_reason or "no", check.summary)
    Console().print(table)
    raise typer.Exit()


def audit(
    url: Annotated[str, typer.Argument(help="The chat endpoint (or base URL) of the backend to audit.")],
    target: Annotated[
        str, typer.Option("--target", "-t", help="openai, reference, or a YAML target profile file.")
    ] = "reference",
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="Extra request header 'Name: value' (repeatable)."),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name for the openai target.")] = None,
    tap_port: Annotated[
        int | None, typer.Option("--tap-port", help="Run the tap on this port during the audit (127.0.0.1).")
    ] = None,
    tap_upstream: Annotated[
        str | None, typer.Option("--tap-upstream", help="The real AI base URL the tap forwards to.")
    ] = None,
    pid: Annotated[int | None, typer.Option("--pid", help="Backend process id: watch its memory.")] = None,
    redis_url: Annotated[str | None, typer.Option("--redis-url", help="Inspect cache keys and TTLs.")] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Inspect history tables and indexes (PostgreSQL/SQLite)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for audit.json/.md/.html.")] = Path(
        "reports/audit"
    ),
    lang: Annotated[str, typer.Option("--lang", help="Report language: en or pt-BR.")] = "en",
    max_requests: Annotated[
        int, typer.Option("--max-requests", help="Most chat requests the audit may send.")
    ] = 150,
    max_seconds: Annotated[float, typer.Option("--max-seconds", help="Time budget for the probes.")] = 60.0,
    skip_intrusive: Annotated[
        bool, typer.Option("--skip-intrusive", help="Skip the burst, oversized bodies and fault injection.")
    ] = False,
    skip: Annotated[
        list[str] | None, typer.Option("--skip", help=f"Skip a check by id: {_CHECK_LIST}.")
    ] = None,
    price: Annotated[
        list[str] | None,
        typer.Option("--price", help="MODEL=IN/OUT USD per 1M tokens for impact estimates (repeatable)."),
    ] = None,
    list_checks: Annotated[
        bool,
        typer.Option(
            "--list-checks", callback=_list_checks, is_eager=True, help="List every check and exit."
        ),
    ] = False,
) -> None:
    """Diagnose why a chat backend lags, before optimizing anything.

    Sends a scripted conversation and a few probes, bounded by --max-requests and --max-seconds.

    With --tap-port/--tap-upstream it also records every AI call the backend makes:
    point the backend's OPENAI_BASE_URL at http://127.0.0.1:TAP_PORT/v1 first.

    Prints the ranked bottlenecks; writes audit.json, audit.md and audit.html to --out.
    Check ids and thresholds: docs/CHECKS.md.

    Example: chatopt audit http://127.0.0.1:8000 -H 'Authorization: Bearer T'
    --tap-port 9200 --tap-upstream http://127.0.0.1:9100/v1 --pid 4242
    """
    check_language(lang)
    if max_requests < 10:
        raise ChatoptError(
            "--max-requests must be at least 10", hint="the scripted conversation alone needs 7"
        )
    headers = dict(parse_header(line) for line in header or [])
    chat_target = load_target(target, url=url, model=model, headers=headers)
    prices = PriceTable(dict(parse_price(spec) for spec in price or []))
    options = AuditOptions(
        max_requests=max_requests,
        max_seconds=max_seconds,
        skip_intrusive=skip_intrusive,
        skip=frozenset(skip or []),
        pid=pid,
        redis_url=redis_url,
        database_url=database_url,
        lang=lang,
        prices=prices,
    )
    if tap_port is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ChatoptError(
                f"cannot create {out}: {exc.strerror}", hint="pass a writable --out directory"
            ) from exc
    console = Console()
    probes = intrusive_probes(options)
    if probes:
        console.print(
            "[bold]Intrusive probes[/bold] (skip with --skip-intrusive or --skip ID):", highlight=False
        )
        for check_id, reason in probes:
            console.print(f"  • {check_id}: {reason}", highlight=False)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("scripted conversation", total=len(ALL_CHECKS) - len(options.skip))

        def on_progress(check_id: str, done: int, total: int) -> None:
            progress.update(task, description=check_id, completed=done, total=total)

        result = asyncio.run(
            run_audit(
                chat_target,
                options,
                tap_port=tap_port,
                tap_upstream=tap_upstream,
                tap_trace=out / "tap-trace.jsonl" if tap_port else None,
                on_progress=on_progress,
            )
        )
    paths = write_audit_reports(result, out)
    render_summary(console, result)
    console.print("reports: " + ", ".join(str(path) for path in paths), highlight=False)


def render_summary(console: Console, result: AuditResult) -> None:
    """The ranked bottlenecks as a table, then the diagnosis text."""
    problems = ranked_problems(result.findings)
    lang = result.lang
    table = Table(
        title=pick(
            lang,
            f"chatopt audit: {len(problems)} problem(s) in {result.duration_s:.0f} s, "
            f"{result.requests_sent} requests",
            f"auditoria chatopt: {len(problems)} problema(s) em {result.duration_s:.0f} s, "
            f"{result.requests_sent} requisições",
        )
    )
    columns = pick(
        lang,
        "#|check|SPEC|severity|finding|impact|switch",
        "#|verificação|SPEC|severidade|achado|impacto|switch",
    )
    for column in columns.split("|"):
        table.add_column(column)
    for index, finding in enumerate(problems, start=1):
        color = {"critical": "bold red", "high": "red", "medium": "yellow"}.get(finding.severity, "")
        table.add_row(
            str(index),
            finding.check,
            finding.spec_ref,
            f"[{color}]{finding.severity}[/]" if color else finding.severity,
            finding.title,
            describe_impact(finding.impact, lang),
            finding.switch or "-",
        )
    console.print(table)
    for warning in result.warnings:
        console.print(f"[bold yellow]warning:[/bold yellow] {warning}", highlight=False)
    unknown = [f.check for f in result.findings if f.status == "not_enough_data"]
    if unknown:
        label = pick(lang, "not enough data", "dados insuficientes")
        console.print(f"[dim]{label}: {', '.join(unknown)}[/dim]", highlight=False)
    console.print(result.diagnosis, highlight=False)
