"""``latency.split``: TTFT vs total, and how much of the wait is the backend itself, not the AI."""

from __future__ import annotations

from chatopt.audit.checks.base import Check, median, rounded
from chatopt.audit.findings import Finding, Impact
from chatopt.audit.session import Probe

#: Backend time before the first token above this (median) is worth a finding (SPEC: < 200 ms perceived).
OVERHEAD_PROBLEM_MS = 1000.0


def backend_overhead_ms(probe: Probe) -> float | None:
    """Client TTFT minus the AI's own time to its first token (or whole answer when not streamed)."""
    # Calls that ended after the user had the whole answer were background work (summaries...).
    calls = [
        call
        for call in probe.chat_calls
        if call.status < 400
        and (call.started_at - probe.started_at) * 1000 + call.duration_ms <= probe.total_ms
    ]
    if not calls or probe.ttft_ms is None:
        return None
    last = max(calls, key=lambda call: call.started_at)
    upstream_first = (last.started_at - probe.started_at) * 1000 + (
        last.ttft_ms if last.stream and last.ttft_ms is not None else last.duration_ms
    )
    return max(probe.ttft_ms - upstream_first, 0.0)


class LatencySplitCheck(Check):
    id = "latency.split"
    spec_ref = "P5"
    summary = (
        "TTFT and total per turn; backend overhead = client TTFT minus the AI's own TTFT (from the tap)."
    )

    async def run(self) -> list[Finding]:
        probes = [probe for probe in await self.session.conversation() if probe.ok]
        if not probes:
            return [self.not_enough_data("no successful turn", "nenhum turno bem-sucedido")]
        ttft = [probe.ttft_ms for probe in probes if probe.ttft_ms is not None]
        total = [probe.total_ms for probe in probes]
        overhead = [value for probe in probes if (value := backend_overhead_ms(probe)) is not None]
        evidence = {
            "turns": len(probes),
            "ttft_ms_per_turn": [rounded(value) for value in ttft],
            "total_ms_per_turn": [rounded(value) for value in total],
            "median_ttft_ms": rounded(median(ttft)),
            "median_total_ms": rounded(median(total)),
            "median_backend_overhead_ms": rounded(median(overhead)),
        }
        if not overhead:
            return [
                self.finding(
                    "ok",
                    self.t(
                        "Latency split (no tap: backend vs AI time unknown)",
                        "Divisão da latência (sem tap: backend vs IA desconhecido)",
                    ),
                    evidence=evidence,
                    confidence="low",
                )
            ]
        typical = median(overhead) or 0.0
        if typical >= OVERHEAD_PROBLEM_MS and typical >= 0.25 * (median(ttft) or 1):
            return [
                self.finding(
                    "problem",
                    self.t(
                        "The backend itself adds most of the wait", "O próprio backend soma a maior espera"
                    ),
                    severity="high",
                    evidence=evidence,
                    cause=self.t(
                        f"{typical:.0f} ms (median) pass between the AI's first token and the user's, "
                        "or before the AI is even called (history reads, sync writes, queueing)",
                        f"{typical:.0f} ms (mediana) entre o primeiro token da IA e o do usuário, ou antes "
                        "mesmo de chamar a IA (leitura de histórico, escritas síncronas, fila)",
                    ),
                    impact=Impact(
                        ms_per_request=rounded(typical),
                        summary=self.t(
                            "backend time on every request", "tempo de backend em toda requisição"
                        ),
                    ),
                    fix=self.t(
                        "profile the request path; batch and async DB writes; hot history in Redis",
                        "faça profiling do caminho; escritas em lote e assíncronas; histórico no Redis",
                    ),
                    switch="tiered_storage",
                    confidence="medium",
                    next_step="chatopt profile --pid PID --duration 30s",
                ),
            ]
        return [
            self.finding(
                "ok",
                self.t("Backend overhead is small", "Overhead do backend é pequeno"),
                evidence=evidence,
                confidence="medium",
            )
        ]
