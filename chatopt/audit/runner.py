"""Run the checks against a target within the request and time budget; assemble the result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from chatopt.audit.checks import ALL_CHECKS, CHECKS_BY_ID, Check
from chatopt.audit.checks.context import context_points
from chatopt.audit.checks.rate_limit import RESERVED_S, RateLimitCheck
from chatopt.audit.diagnosis import write_diagnosis
from chatopt.audit.findings import AuditResult, Finding, Stack, TracedCall, TurnTrace
from chatopt.audit.language import check_language, pick
from chatopt.audit.plan import migration_plan, plan_as_dicts
from chatopt.audit.session import AuditOptions, AuditSession, BudgetExhausted, Probe
from chatopt.errors import ChatoptError
from chatopt.profiling.process import ProcessSampler
from chatopt.tap import TapServer
from chatopt.targets import Target, explain_failure

ProgressCallback = Callable[[str, int, int], None]


def planned_checks(options: AuditOptions) -> tuple[list[type[Check]], list[str]]:
    """The checks that will run, and the ids skipped by ``--skip`` / ``--skip-intrusive``."""
    unknown = sorted(options.skip - set(CHECKS_BY_ID))
    if unknown:
        raise ChatoptError(
            f"unknown check id(s): {', '.join(unknown)}", hint=f"choose from: {', '.join(CHECKS_BY_ID)}"
        )
    run, skipped = [], []
    for check in ALL_CHECKS:
        if check.id in options.skip or (check.intrusive and options.skip_intrusive):
            skipped.append(check.id)
        else:
            run.append(check)
    return run, skipped


def intrusive_probes(options: AuditOptions) -> list[tuple[str, str]]:
    """``(check id, what it does)`` for every intrusive probe that will run (shown before starting)."""
    checks, _ = planned_checks(options)
    return [(check.id, check.intrusive_reason) for check in checks if check.intrusive]


async def run_audit(
    target: Target,
    options: AuditOptions,
    *,
    tap_port: int | None = None,
    tap_upstream: str | None = None,
    tap_trace: Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> AuditResult:
    """Audit ``target``; with ``tap_port`` and ``tap_upstream`` the tap records the AI calls meanwhile."""
    check_language(options.lang)
    if (tap_port is None) != (tap_upstream is None):
        raise ChatoptError(
            "--tap-port and --tap-upstream go together",
            hint="give both, and point the backend's OPENAI_BASE_URL at http://127.0.0.1:PORT/v1",
        )
    if options.pid is not None:
        ProcessSampler(options.pid)  # fail early with a clear message
    checks, skipped = planned_checks(options)
    tap = TapServer(tap_upstream, tap_port, trace_path=tap_trace) if tap_port and tap_upstream else None
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    began = time.monotonic()
    if tap is not None:
        await asyncio.to_thread(tap.start)
    try:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=40)
        async with httpx.AsyncClient(
            timeout=target.timeout_s, verify=target.verify_tls, limits=limits, trust_env=False
        ) as client:
            session = AuditSession(target, client, options, tap)
            conversation = await session.conversation()
            if not conversation or not conversation[0].ok:
                if not conversation:
                    raise ChatoptError("the audit budget allowed no request", hint="raise --max-requests")
                raise explain_failure(target, conversation[0].exchange)
            findings = [
                Finding(
                    check=c,
                    spec_ref=CHECKS_BY_ID[c].spec_ref,
                    status="skipped",
                    title=pick(options.lang, "Skipped", "Ignorada"),
                )
                for c in skipped
            ]
            reserved = RESERVED_S if RateLimitCheck in checks else 0.0
            session.deadline -= reserved  # the burst runs last; keep its time for it
            for index, check in enumerate(checks):
                if on_progress is not None:
                    on_progress(check.id, index, len(checks))
                if check is RateLimitCheck:
                    session.deadline += reserved
                findings.extend(await _run_check(check(session)))
            if on_progress is not None:
                on_progress("done", len(checks), len(checks))
            stack = _stack(session, conversation, findings)
    finally:
        if tap is not None:
            await asyncio.to_thread(tap.stop)
    ordered = sorted(findings, key=lambda f: [c.id for c in ALL_CHECKS].index(f.check))
    return AuditResult(
        target={"name": target.name, "url": target.url, "mode": target.mode, "history": target.history},
        stack=stack,
        lang=options.lang,
        started_at=started_at,
        duration_s=round(time.monotonic() - began, 2),
        requests_sent=session.requests_sent,
        tap_used=tap is not None,
        skipped_checks=skipped,
        warnings=_warnings(tap, conversation, options.lang),
        findings=ordered,
        diagnosis=write_diagnosis(stack, ordered, options.lang),
        migration_plan=plan_as_dicts(migration_plan(ordered, options.lang)),
        waterfall=_waterfall(conversation),
        context_growth=context_points([p for p in conversation if p.ok]),
    )


async def _run_check(check: Check) -> list[Finding]:
    """Run one check; a spent budget or an unexpected failure becomes a "not enough data" finding."""
    try:
        return await check.run()
    except BudgetExhausted as exc:
        return [check.not_enough_data(f"budget spent: {exc}", f"orçamento esgotado: {exc}")]
    except ChatoptError:
        raise
    except Exception as exc:  # one broken probe must not sink the whole audit
        return [
            check.not_enough_data(
                f"the check failed: {type(exc).__name__}: {exc}",
                f"a verificação falhou: {type(exc).__name__}: {exc}",
            )
        ]


def _warnings(tap: TapServer | None, conversation: list[Probe], lang: str) -> list[str]:
    """Set-up mistakes worth saying out loud, such as a tap the backend never called."""
    if tap is not None and conversation and not any(probe.calls for probe in conversation):
        return [
            pick(
                lang,
                "the tap saw no AI call during the scripted conversation: point the backend's "
                f"OPENAI_BASE_URL at {tap.base_url} (checks that need the tap report not enough data)",
                "o tap não viu chamadas à IA na conversa roteirizada: aponte o OPENAI_BASE_URL do "
                f"backend para {tap.base_url} (as verificações que precisam do tap ficam sem dados)",
            )
        ]
    return []


def _stack(session: AuditSession, conversation: list[Probe], findings: list[Finding]) -> Stack:
    transport = session.transport
    headers = conversation[0].exchange.headers if conversation else {}
    calls = session.tap.proxy.calls if session.tap else []
    models = sorted({c.model for c in calls if c.model and c.kind == "chat"})
    ai_api = None
    if session.tap is not None:
        host = urlsplit(session.tap.proxy.upstream).netloc
        kinds = sorted({c.kind for c in calls})
        ai_api = f"OpenAI-compatible API at {host} ({', '.join(kinds) or 'no calls'})"
    database = None
    if session.options.database_url:
        database = session.options.database_url.split("://", 1)[0].split("+", 1)[0]
    runtime = None
    if session.options.pid:
        runtime = ProcessSampler(session.options.pid).runtime()
    return Stack(
        url=session.target.url,
        server=transport.get("server") or headers.get("server"),
        powered_by=transport.get("powered_by") or headers.get("x-powered-by"),
        http_version=transport.get("http_version"),
        transport=conversation[0].exchange.mode if conversation else None,
        websocket_offered=transport.get("websocket_offered"),
        content_type=headers.get("content-type"),
        ai_api=ai_api,
        models=models,
        runtime=runtime,
        database=database,
        cache="redis" if session.options.redis_url else None,
    )


def _waterfall(conversation: list[Probe]) -> TurnTrace | None:
    """The last successful turn with AI calls: client timing and each call, in ms from the turn's start."""
    traced = [p for p in conversation if p.ok and p.calls] or [p for p in conversation if p.ok]
    if not traced:
        return None
    probe = traced[-1]
    calls = [
        TracedCall(
            label=f"{c.kind} {c.model or ''}".strip(),
            start_ms=round((c.started_at - probe.started_at) * 1000, 1),
            ttft_ms=round((c.started_at - probe.started_at) * 1000 + c.ttft_ms, 1)
            if c.ttft_ms is not None
            else None,
            end_ms=round((c.started_at - probe.started_at) * 1000 + c.duration_ms, 1),
            status=c.status,
        )
        for c in probe.calls
    ]
    turn = conversation.index(probe) + 1
    return TurnTrace(
        label=f"turn {turn}: {probe.message}",
        client_ttft_ms=probe.ttft_ms,
        client_total_ms=round(probe.total_ms, 1),
        calls=calls,
    )
