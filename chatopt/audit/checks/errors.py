"""``errors.upstream``: when the AI fails or stalls, does the user get a friendly answer, and in bounded time?

The tap injects the failures (HTTP 500 on the next calls, then a stalled call), so this
check needs ``--tap-port``/``--tap-upstream``.
"""

from __future__ import annotations

from chatopt.audit.checks.base import Check, rounded
from chatopt.audit.findings import Finding, Impact
from chatopt.audit.session import BudgetExhausted
from chatopt.tap import Fault

#: Enough failures to outlast a backend's retries (SPEC: exponential backoff, then a fallback).
FAILURES = 4


def _raw_error(status: int, sample: str) -> bool:
    text = sample.lower()
    return (
        "traceback" in text
        or 'file "/' in text
        or (
            status >= 500
            and ("internal server error" in text or not sample.strip().startswith(("{", "data:")))
        )
    )


class UpstreamErrorsCheck(Check):
    id = "errors.upstream"
    spec_ref = "errors"
    summary = (
        "The tap fails the AI calls (HTTP 500) and stalls one: friendly fallback or raw 500? bounded time?"
    )
    intrusive = True
    intrusive_reason = (
        f"the tap fails the next {FAILURES} AI calls with HTTP 500 and stalls one (4 s by default)"
    )

    async def run(self) -> list[Finding]:
        tap = self.session.tap
        if tap is None:
            return [
                self.not_enough_data(
                    "fault injection needs the tap (--tap-port/--tap-upstream)",
                    "a injeção de falhas precisa do tap (--tap-port/--tap-upstream)",
                )
            ]
        faults = tap.proxy.faults
        stall_s = self.session.options.stall_s
        try:
            faults.arm(Fault(status=500, count=FAILURES))
            failed = await self.session.chat("What are your support hours on weekends?", timeout_s=30)
            faults.clear()
            faults.arm(Fault(delay_s=stall_s))
            stalled = await self.session.chat("Do you ship internationally?", timeout_s=stall_s + 20)
        except BudgetExhausted as exc:
            return [self.not_enough_data(f"budget spent: {exc}", f"orçamento esgotado: {exc}")]
        finally:
            faults.clear()
        attempts = len([c for c in failed.calls if c.fault])
        exchange = failed.exchange
        friendly = exchange.ok or (
            400 <= exchange.status < 600 and not _raw_error(exchange.status, exchange.sample)
        )
        evidence = {
            "failure_status": exchange.status,
            "failure_ok": exchange.ok,
            "failure_body": exchange.sample[:160],
            "failure_ms": rounded(failed.total_ms),
            "upstream_attempts": attempts,
            "stall_s": stall_s,
            "stall_status": stalled.exchange.status,
            "stall_ms": rounded(stalled.total_ms),
        }
        findings: list[Finding] = []
        if not friendly:
            findings.append(
                self.finding(
                    "problem",
                    self.t("AI failures reach the user as a raw 500", "Falhas da IA chegam como 500 cru"),
                    severity="high",
                    evidence=evidence,
                    cause=self.t(
                        f"with the AI answering 500, the backend answered HTTP {exchange.status} "
                        f"({exchange.sample[:60]!r}) after {attempts} attempt(s)",
                        f"com a IA respondendo 500, o backend respondeu HTTP {exchange.status} "
                        f"({exchange.sample[:60]!r}) após {attempts} tentativa(s)",
                    ),
                    impact=Impact(
                        summary=self.t(
                            "every provider hiccup becomes a broken chat for the user",
                            "cada instabilidade do provedor vira um chat quebrado",
                        )
                    ),
                    fix=self.t(
                        "retry with exponential backoff, then a friendly fallback message; circuit "
                        "breaker at >10% AI errors; structured logs with trace ids",
                        "retry com backoff exponencial, depois mensagem amigável; circuit breaker acima de "
                        "10% de erros da IA; logs estruturados com trace id",
                    ),
                    switch="resilience",
                    confidence="high",
                )
            )
        if stalled.exchange.error_kind == "timeout" or stalled.total_ms >= (stall_s + 15) * 1000:
            findings.append(
                self.finding(
                    "problem",
                    self.t("A stalled AI call hangs the chat", "Uma chamada travada da IA trava o chat"),
                    severity="medium",
                    evidence=evidence,
                    cause=self.t(
                        f"a {stall_s:g} s stall upstream left the user waiting over {stall_s + 15:g} s",
                        f"um travamento de {stall_s:g} s na IA deixou o usuário esperando mais de "
                        f"{stall_s + 15:g} s",
                    ),
                    fix=self.t(
                        "bound every AI call (30 s max, SPEC) and answer with a fallback on timeout",
                        "limite cada chamada à IA (30 s no máximo) e responda com fallback no timeout",
                    ),
                    switch="resilience",
                    confidence="medium",
                )
            )
        if not findings:
            findings.append(
                self.finding(
                    "ok",
                    self.t("AI failures are handled", "Falhas da IA são tratadas"),
                    evidence=evidence,
                    confidence="high",
                )
            )
        return findings
