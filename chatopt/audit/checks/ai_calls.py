"""``ai_calls.per_turn``: the AI calls behind each user turn: how many, which kind, parallel, repeated?"""

from __future__ import annotations

from chatopt.audit.checks.base import Check, median
from chatopt.audit.findings import Finding, Impact
from chatopt.tap import AICall


def overlapping(calls: list[AICall]) -> bool:
    """True when any two calls ran at the same time."""
    spans = sorted((c.started_at, c.started_at + c.duration_ms / 1000) for c in calls)
    return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


def duplicates(calls: list[AICall]) -> int:
    """Chat calls that repeat an earlier call of the same turn (same model, prompt and size)."""
    seen: set[tuple] = set()
    repeated = 0
    for call in calls:
        if call.kind != "chat":
            continue
        key = (call.model, call.last_user_message, call.prompt_tokens, call.message_count)
        repeated += key in seen
        seen.add(key)
    return repeated


class AICallsCheck(Check):
    id = "ai_calls.per_turn"
    spec_ref = "P5"
    summary = "From the tap: AI calls per user turn (chat, embeddings), sequential or parallel, duplicates."

    async def run(self) -> list[Finding]:
        probes = [probe for probe in await self.session.conversation() if probe.ok]
        if self.session.tap is None:
            return [
                self.not_enough_data(
                    "AI calls are only visible through the tap (--tap-port/--tap-upstream)",
                    "as chamadas à IA só aparecem pelo tap (--tap-port/--tap-upstream)",
                )
            ]
        if not probes:
            return [self.not_enough_data("no successful turn", "nenhum turno bem-sucedido")]
        per_turn = [
            {
                "turn": turn,
                "chat": sum(1 for c in probe.calls if c.kind == "chat"),
                "embeddings": sum(1 for c in probe.calls if c.kind == "embeddings"),
                "other": sum(1 for c in probe.calls if c.kind == "other"),
                "parallel": overlapping(probe.calls),
                "duplicates": duplicates(probe.calls),
            }
            for turn, probe in enumerate(probes, start=1)
        ]
        total_duplicates = sum(turn["duplicates"] for turn in per_turn)
        evidence = {
            "per_turn": per_turn,
            "median_calls_per_turn": median([t["chat"] + t["embeddings"] + t["other"] for t in per_turn]),
            "paths": sorted({c.path for probe in probes for c in probe.calls}),
        }
        if total_duplicates:
            wasted = [c for probe in probes for c in probe.chat_calls]
            prices = self.session.options.prices
            mean_cost = sum(
                prices.price_of(c.model).cost(c.prompt_tokens or 0, c.completion_tokens or 0) for c in wasted
            ) / max(len(wasted), 1)
            return [
                self.finding(
                    "problem",
                    self.t("The same AI call is made twice per turn", "A mesma chamada à IA é feita 2x"),
                    severity="medium",
                    evidence=evidence,
                    spec_ref="P2",
                    cause=self.t(
                        f"{total_duplicates} duplicate chat call(s) over {len(per_turn)} turns",
                        f"{total_duplicates} chamada(s) duplicada(s) em {len(per_turn)} turnos",
                    ),
                    impact=Impact(
                        usd_per_1k_requests=round(mean_cost * total_duplicates / len(per_turn) * 1000, 4),
                        summary=self.t("cost of the repeated calls", "custo das chamadas repetidas"),
                    ),
                    fix=self.t(
                        "make one call per turn and reuse its result",
                        "faça uma chamada por turno e reutilize",
                    ),
                    confidence="high",
                )
            ]
        return [
            self.finding(
                "ok",
                self.t("AI calls per turn", "Chamadas à IA por turno"),
                evidence=evidence,
                confidence="high",
            )
        ]
