"""``streaming.present``: does the answer reach the user token by token, or all at once?"""

from __future__ import annotations

import statistics

from chatopt.audit.checks.base import Check, median, rounded
from chatopt.audit.findings import Finding, Impact
from chatopt.audit.session import Probe
from chatopt.mockllm.config import DEFAULT_TIERS

#: Without the tap, a stream whose first text comes after this share of a long (>= 1.5 s) answer is buffered.
LATE_SHARE = 0.9
LONG_ANSWER_MS = 1500.0
#: With the tap, chunks spread over less than this share of the AI's generation time were held back.
SPREAD_SHARE = 0.25
MIN_GENERATION_MS = 300.0


def _arrived_at_once(probe: Probe) -> bool:
    """True when a streamed answer reached the client in one burst although it was generated over time."""
    times = probe.exchange.chunk_times
    if len(times) < 2 or probe.ttft_ms is None:
        return False
    streamed = [c for c in probe.chat_calls if c.stream and c.ttft_ms is not None and c.status < 400]
    if streamed:
        call = max(streamed, key=lambda c: c.duration_ms)
        generation_ms = call.duration_ms - (call.ttft_ms or 0.0)
        spread_ms = (times[-1] - times[0]) * 1000
        return generation_ms >= MIN_GENERATION_MS and spread_ms < SPREAD_SHARE * generation_ms
    return probe.total_ms >= LONG_ANSWER_MS and probe.ttft_ms >= LATE_SHARE * probe.total_ms


class StreamingCheck(Check):
    id = "streaming.present"
    spec_ref = "P1"
    summary = "Answer streamed (SSE/NDJSON/WebSocket) or sent whole; chunk sizes, gaps, buffering."

    async def run(self) -> list[Finding]:
        probes = [probe for probe in await self.session.conversation() if probe.ok]
        if not probes:
            return [
                self.not_enough_data(
                    "no successful chat answer to look at",
                    "nenhuma resposta de chat bem-sucedida para analisar",
                )
            ]
        modes = sorted({probe.exchange.mode for probe in probes})
        chunks = [len(probe.exchange.chunk_times) for probe in probes]
        totals = [probe.total_ms for probe in probes]
        ttfts = [probe.ttft_ms or probe.total_ms for probe in probes]
        evidence = {
            "modes": modes,
            "turns": len(probes),
            "median_chunks": median(chunks),
            "median_ttft_ms": rounded(median(ttfts)),
            "median_total_ms": rounded(median(totals)),
        }
        upstream_streamed = [call.stream for probe in probes for call in probe.chat_calls]
        if upstream_streamed:
            evidence["upstream_stream_share"] = round(
                sum(bool(s) for s in upstream_streamed) / len(upstream_streamed), 2
            )
        if all(count <= 1 for count in chunks):
            return [self._no_streaming(probes, evidence)]
        findings: list[Finding] = []
        texts = [len(text) for probe in probes for text in probe.exchange.chunk_texts]
        gaps = [gap * 1000 for probe in probes for gap in probe.exchange.itl_s]
        evidence |= {
            "median_chunk_chars": median(texts),
            "median_gap_ms": rounded(median(gaps)),
            "p95_gap_ms": rounded(statistics.quantiles(gaps, n=20)[-1]) if len(gaps) >= 20 else None,
        }
        late = [probe for probe in probes if _arrived_at_once(probe)]
        if len(late) > len(probes) / 2:
            findings.append(
                self.finding(
                    "problem",
                    self.t("Stream arrives all at once (buffered)", "Stream chega de uma vez (bufferizado)"),
                    severity="high",
                    evidence=evidence | {"buffered_turns": len(late)},
                    cause=self.t(
                        "the response is a stream, but the first text arrives after 90% of the total time: "
                        "something (compression, a proxy buffer, or the backend) holds the chunks back",
                        "a resposta é um stream, mas o primeiro texto chega após 90% do tempo total: algo "
                        "(compressão, buffer de proxy ou o backend) segura os chunks",
                    ),
                    impact=Impact(
                        ms_per_request=rounded(median([p.total_ms - (p.ttft_ms or 0) for p in probes])),
                        summary=self.t(
                            "perceived latency equals total latency",
                            "latência percebida igual à latência total",
                        ),
                    ),
                    fix=self.t(
                        "flush each chunk as it comes; disable gzip and proxy buffering on the stream "
                        "(X-Accel-Buffering: no)",
                        "envie cada chunk assim que chega; desligue gzip e buffer de proxy no stream "
                        "(X-Accel-Buffering: no)",
                    ),
                    switch="streaming",
                    confidence="high",
                )
            )
        elif upstream_streamed and not any(upstream_streamed):
            findings.append(
                self.finding(
                    "problem",
                    self.t(
                        "Streams to the user, but not from the AI", "Faz stream ao usuário, mas não da IA"
                    ),
                    severity="medium",
                    evidence=evidence,
                    cause=self.t(
                        "the backend calls the AI with stream=false, waits for the whole answer, "
                        "then streams it",
                        "o backend chama a IA com stream=false, espera a resposta inteira "
                        "e só então faz stream",
                    ),
                    fix=self.t(
                        "call the AI with stream=true and forward deltas as they arrive",
                        "chame a IA com stream=true e repasse os deltas conforme chegam",
                    ),
                    switch="streaming",
                    confidence="high",
                )
            )
        else:
            findings.append(
                self.finding(
                    "ok",
                    self.t("Answers are streamed", "Respostas em streaming"),
                    evidence=evidence,
                    confidence="high",
                )
            )
        return findings

    def _no_streaming(self, probes: list, evidence: dict) -> Finding:
        saved = []
        for probe in probes:
            calls = probe.chat_calls
            if calls:
                call = calls[-1]
                tier = DEFAULT_TIERS.get(
                    self.session.options.prices.tier_of(call.model), DEFAULT_TIERS["medium"]
                )
                decode_ms = (call.completion_tokens or 0) / tier.tokens_per_second * 1000
                saved.append(min(decode_ms, probe.total_ms))
            else:
                saved.append(0.7 * probe.total_ms)  # SPEC: streaming removes ~70% of perceived lag
        return self.finding(
            "problem",
            self.t(
                "No streaming: the user waits for the whole answer",
                "Sem streaming: o usuário espera a resposta inteira",
            ),
            severity="critical",
            evidence=evidence,
            cause=self.t(
                f"every answer arrives in one {evidence['modes'][0]} response after "
                f"{evidence['median_total_ms']:.0f} ms (median); nothing is shown before that",
                f"cada resposta chega em uma única resposta {evidence['modes'][0]} após "
                f"{evidence['median_total_ms']:.0f} ms (mediana); nada aparece antes disso",
            ),
            impact=Impact(
                ms_per_request=rounded(median(saved)),
                summary=self.t(
                    "perceived latency that streaming would remove (time spent generating "
                    "tokens after the first one)",
                    "latência percebida que o streaming eliminaria (tempo gerando tokens depois do primeiro)",
                ),
            ),
            fix=self.t(
                "stream tokens from the AI (stream: true) to the client over SSE or WebSocket, "
                "10-50 tokens per chunk; keep the JSON endpoint for old clients",
                "faça stream dos tokens da IA (stream: true) até o cliente via SSE ou WebSocket, "
                "10-50 tokens por chunk; mantenha o endpoint JSON para clientes antigos",
            ),
            switch="streaming",
            confidence="high",
            next_step="chatopt bench URL --target ... (compare TTFT before and after)",
        )
