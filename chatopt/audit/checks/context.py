"""``context.growth``: prompt tokens per turn, and whether the full history is re-sent every time."""

from __future__ import annotations

from chatopt.audit.checks.base import Check, rounded
from chatopt.audit.findings import ContextPoint, Finding, Impact
from chatopt.audit.session import Probe

#: SPEC P4: a window of the last 3-5 messages; history beyond 4 exchanges should be trimmed or summarized.
WINDOW_EXCHANGES = 4


def context_points(probes: list[Probe]) -> list[ContextPoint]:
    """Prompt tokens per turn: the largest chat call the tap saw, else the response's ``usage``."""
    points = []
    for turn, probe in enumerate(probes, start=1):
        calls = [call for call in probe.chat_calls if call.prompt_tokens]
        if calls:
            points.append(
                ContextPoint(turn=turn, prompt_tokens=max(c.prompt_tokens for c in calls), source="tap")
            )
            continue
        usage = probe.exchange.usage or {}
        prompt = usage.get("prompt_tokens") or usage.get("input_tokens")
        if isinstance(prompt, int) and prompt > 0:
            points.append(ContextPoint(turn=turn, prompt_tokens=prompt, source="usage"))
    return points


class ContextGrowthCheck(Check):
    id = "context.growth"
    spec_ref = "P4"
    summary = "Prompt tokens per turn over a scripted conversation: full history re-sent? capped?"

    async def run(self) -> list[Finding]:
        probes = [probe for probe in await self.session.conversation() if probe.ok]
        points = context_points(probes)
        if len(points) < 3:
            return [
                self.not_enough_data(
                    "fewer than 3 turns with a prompt-token count: run with --tap-port/--tap-upstream "
                    "or expose usage in responses",
                    "menos de 3 turnos com contagem de tokens: use --tap-port/--tap-upstream ou exponha "
                    "usage nas respostas",
                    turns=len(points),
                )
            ]
        tokens = [point.prompt_tokens for point in points]
        evidence = {"prompt_tokens_per_turn": tokens, "source": points[-1].source, "turns": len(points)}
        flags = [
            (turn, call.full_history)
            for turn, probe in enumerate(probes, start=1)
            for call in probe.chat_calls
            if call.full_history is not None and turn > WINDOW_EXCHANGES
        ]
        if flags:
            full = all(flag for _, flag in flags)
            evidence["full_history_on_turns"] = [turn for turn, flag in flags if flag]
            confidence = "high"
        else:
            growth = [later - earlier for earlier, later in zip(tokens, tokens[1:], strict=False)]
            full = all(step > 0 for step in growth) and tokens[-1] > 2 * tokens[0]
            confidence = "medium"
        if not full:
            return [
                self.finding(
                    "ok",
                    self.t("Context is windowed", "Contexto com janela"),
                    evidence=evidence,
                    confidence=confidence,
                )
            ]
        per_turn = (tokens[-1] - tokens[0]) / max(len(tokens) - 1, 1)
        first = tokens[0]
        # What a 3-exchange window would send at turn N vs the full history, averaged over a 20-turn chat.
        turns = 20
        full_total = sum(first + per_turn * n for n in range(turns))
        windowed_total = sum(first + per_turn * min(n, 3) for n in range(turns))
        saved_per_request = (full_total - windowed_total) / turns
        price = self.session.options.prices.price_of(_main_model(probes))
        return [
            self.finding(
                "problem",
                self.t("Full history sent on every turn", "Histórico completo enviado a cada turno"),
                severity="high",
                evidence=evidence | {"tokens_added_per_turn": rounded(per_turn)},
                cause=self.t(
                    f"prompt tokens grow by ~{per_turn:.0f} per turn ({tokens[0]} -> {tokens[-1]} over "
                    f"{len(tokens)} turns) and never level off: each call carries the whole conversation",
                    f"os tokens do prompt crescem ~{per_turn:.0f} por turno ({tokens[0]} -> {tokens[-1]} em "
                    f"{len(tokens)} turnos) sem estabilizar: cada chamada leva a conversa inteira",
                ),
                impact=Impact(
                    tokens_per_1k_requests=round(saved_per_request * 1000),
                    usd_per_1k_requests=round(price.cost(saved_per_request * 1000, 0), 4),
                    summary=self.t(
                        f"input tokens a 3-exchange window would save, averaged over a 20-turn chat "
                        f"({price.tier} prices)",
                        f"tokens de entrada que uma janela de 3 trocas economizaria, na média de uma "
                        f"conversa de 20 turnos (preços {price.tier})",
                    ),
                ),
                fix=self.t(
                    "send system prompt + a summary + the last 3 exchanges + the query (3-4k tokens max); "
                    "summarize older messages every 5 messages",
                    "envie prompt de sistema + resumo + as últimas 3 trocas + a pergunta (máx. 3-4k tokens); "
                    "resuma as mensagens antigas a cada 5 mensagens",
                ),
                switch="context_window",
                confidence=confidence,
            )
        ]


def _main_model(probes: list[Probe]) -> str | None:
    models = [call.model for probe in probes for call in probe.chat_calls if call.model]
    return max(set(models), key=models.count) if models else None
