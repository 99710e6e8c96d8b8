"""``monitoring.signals``: Prometheus metrics, trace ids and server timing the operators can watch."""

from __future__ import annotations

import httpx

from chatopt.audit.checks.base import Check
from chatopt.audit.findings import Finding

TRACE_HEADERS = ("traceparent", "x-request-id", "x-trace-id", "x-correlation-id", "request-id")


class MonitoringCheck(Check):
    id = "monitoring.signals"
    spec_ref = "monitoring"
    summary = "GET /metrics (Prometheus), trace-id and Server-Timing headers on chat responses."

    async def run(self) -> list[Finding]:
        await self.session.conversation()
        metrics = False
        try:
            response = await self.session.request("GET", self.session.origin + "/metrics", timeout_s=5)
            metrics = response.status_code == 200 and "# TYPE" in response.text
        except httpx.HTTPError:
            metrics = False
        headers = {name for h in self.session.response_headers for name in h}
        trace = sorted(headers & set(TRACE_HEADERS))
        timing = "server-timing" in headers
        evidence = {"prometheus_metrics": metrics, "trace_headers": trace, "server_timing": timing}
        if metrics or trace:
            return [
                self.finding(
                    "ok",
                    self.t("Monitoring signals present", "Sinais de monitoramento presentes"),
                    evidence=evidence,
                    confidence="high",
                )
            ]
        return [
            self.finding(
                "problem",
                self.t("Nothing to monitor it by", "Nada para monitorar"),
                severity="medium",
                evidence=evidence,
                cause=self.t(
                    "no /metrics endpoint and no trace id on responses: regressions go unseen",
                    "sem endpoint /metrics e sem trace id nas respostas: regressões passam despercebidas",
                ),
                fix=self.t(
                    "export P50/P95/P99 latency, TTFT, cache hit rate, error rate to Prometheus; W3C "
                    "traceparent on every response; alert on KPIs",
                    "exporte latência P50/P95/P99, TTFT, taxa de cache e de erro ao Prometheus; traceparent "
                    "W3C em toda resposta; alertas nos KPIs",
                ),
                switch="monitoring",
                confidence="medium",
            )
        ]
