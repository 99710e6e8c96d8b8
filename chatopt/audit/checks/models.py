"""``model.routing``: is one (large) model used for every query, simple or not?"""

from __future__ import annotations

from collections import Counter

from chatopt.audit.checks.base import Check
from chatopt.audit.findings import Finding, Impact

#: SPEC P3: ~80% of queries fit a light model, ~15% a mid one, ~5% need the top one.
ROUTED_MIX = {"small": 0.80, "medium": 0.15, "large": 0.05}


class ModelRoutingCheck(Check):
    id = "model.routing"
    spec_ref = "P3"
    summary = "Which models answered the audit's simple and follow-up questions (from the tap)."

    async def run(self) -> list[Finding]:
        await self.session.conversation()
        if self.session.tap is None:
            return [
                self.not_enough_data(
                    "the model is only visible in the AI calls: run with --tap-port/--tap-upstream",
                    "o modelo só aparece nas chamadas à IA: use --tap-port/--tap-upstream",
                )
            ]
        calls = [c for c in self.session.tap.proxy.calls if c.kind == "chat" and c.status < 400 and c.model]
        if len(calls) < 3:
            return [
                self.not_enough_data(
                    "fewer than 3 AI calls seen", "menos de 3 chamadas à IA vistas", calls=len(calls)
                )
            ]
        prices = self.session.options.prices
        models = Counter(call.model for call in calls)
        tiers = {model: prices.tier_of(model) for model in models}
        evidence = {"calls": len(calls), "models": dict(models), "tiers": tiers}
        if len(models) > 1:
            return [
                self.finding(
                    "ok",
                    self.t("Several models in use", "Vários modelos em uso"),
                    evidence=evidence,
                    confidence="high",
                )
            ]
        model = next(iter(models))
        if tiers[model] == "small":
            return [
                self.finding(
                    "ok",
                    self.t("One light model for everything", "Um modelo leve para tudo"),
                    evidence=evidence,
                    confidence="high",
                )
            ]
        prompt = sum(c.prompt_tokens or 0 for c in calls) / len(calls)
        completion = sum(c.completion_tokens or 0 for c in calls) / len(calls)
        now = prices.price_of(model).cost(prompt, completion)
        routed = sum(
            share * prices.tier_price(tier).cost(prompt, completion) for tier, share in ROUTED_MIX.items()
        )
        return [
            self.finding(
                "problem",
                self.t(f"One {tiers[model]} model for everything", f"Um modelo {tiers[model]} para tudo"),
                severity="high" if tiers[model] == "large" else "medium",
                evidence=evidence,
                cause=self.t(
                    f"all {len(calls)} AI calls, including one-line FAQ questions, went to {model} "
                    f"({tiers[model]} tier)",
                    f"todas as {len(calls)} chamadas à IA, inclusive perguntas simples de FAQ, foram para "
                    f"{model} (nível {tiers[model]})",
                ),
                impact=Impact(
                    usd_per_1k_requests=round((now - routed) * 1000, 4),
                    summary=self.t(
                        "saved by routing 80% small / 15% medium / 5% large at the observed token counts",
                        "economia roteando 80% pequeno / 15% médio / 5% grande com os tokens observados",
                    ),
                ),
                fix=self.t(
                    "route by a fast (<50 ms) classifier: length, keywords, history; light model for FAQs, "
                    "mid for multi-step, top for deep reasoning; retry with a bigger model on a failed check",
                    "roteie com um classificador rápido (<50 ms): tamanho, palavras-chave, histórico; modelo "
                    "leve para FAQ, médio para múltiplos passos, topo para raciocínio profundo",
                ),
                switch="routing",
                confidence="high",
            )
        ]
