"""``cache.repeat``: is an exact repeat (or a paraphrase) answered without calling the AI again?"""

from __future__ import annotations

from chatopt.audit.checks.base import Check, rounded
from chatopt.audit.findings import Finding, Impact
from chatopt.audit.session import BudgetExhausted, Probe

QUESTION = "How do I reset my password?"
PARAPHRASE = "How can I reset my password?"


class CacheCheck(Check):
    id = "cache.repeat"
    spec_ref = "P2"
    summary = "Asks one question twice and once reworded (new conversations): does the AI get called again?"

    async def run(self) -> list[Finding]:
        try:
            first = await self.session.chat(QUESTION)
            repeat = await self.session.chat(QUESTION)
            paraphrase = await self.session.chat(PARAPHRASE)  # not concurrent: each probe owns its AI calls
        except BudgetExhausted as exc:
            return [self.not_enough_data(f"budget spent: {exc}", f"orçamento esgotado: {exc}")]
        if not (first.ok and repeat.ok and paraphrase.ok):
            return [
                self.not_enough_data(
                    "the repeated question failed",
                    "a pergunta repetida falhou",
                    errors=[p.exchange.error for p in (first, repeat, paraphrase) if not p.ok],
                )
            ]
        evidence = {
            "first_ms": rounded(first.total_ms),
            "repeat_ms": rounded(repeat.total_ms),
            "paraphrase_ms": rounded(paraphrase.total_ms),
        }
        if self.session.tap is not None:
            return [self._from_tap(first, repeat, paraphrase, evidence)]
        if repeat.total_ms < 0.3 * first.total_ms:
            return [
                self.finding(
                    "ok",
                    self.t("Repeats look cached", "Repetições parecem em cache"),
                    evidence=evidence,
                    confidence="low",
                )
            ]
        return [self._no_cache(first, evidence, "low")]

    def _from_tap(self, first: Probe, repeat: Probe, paraphrase: Probe, evidence: dict) -> Finding:
        if not first.chat_calls:
            return self.not_enough_data(
                "the tap saw no AI call even for the first ask (already cached, or the backend does not "
                "call the AI through the tap)",
                "o tap não viu chamada à IA nem na primeira pergunta (já em cache, ou o backend não chama "
                "a IA pelo tap)",
                **evidence,
            )
        evidence |= {
            "ai_calls_first": len(first.chat_calls),
            "ai_calls_repeat": len(repeat.chat_calls),
            "ai_calls_paraphrase": len(paraphrase.chat_calls),
        }
        if repeat.chat_calls:
            return self._no_cache(first, evidence, "high")
        if paraphrase.chat_calls:
            return self.finding(
                "problem",
                self.t("Exact-match cache only", "Cache só de correspondência exata"),
                severity="low",
                evidence=evidence,
                cause=self.t(
                    "an exact repeat is served from cache, but a reworded question calls the AI again",
                    "uma repetição exata vem do cache, mas uma pergunta reformulada chama a IA de novo",
                ),
                fix=self.t(
                    "add a semantic layer: embed the query, cosine >= 0.90 against cached questions",
                    "adicione a camada semântica: embedding da pergunta, cosseno >= 0,90 contra o cache",
                ),
                switch="cache",
                confidence="high",
            )
        return self.finding(
            "ok",
            self.t("Exact and reworded repeats are cached", "Repetições exatas e reformuladas em cache"),
            evidence=evidence,
            confidence="high",
        )

    def _no_cache(self, first: Probe, evidence: dict, confidence: str) -> Finding:
        calls = first.chat_calls
        prices = self.session.options.prices
        cost = sum(
            prices.price_of(c.model).cost(c.prompt_tokens or 0, c.completion_tokens or 0) for c in calls
        )
        tokens = sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) for c in calls)
        # SPEC P2: 70-90% of chat traffic repeats; count the savings at a conservative 50% hit rate.
        hit_rate = 0.5
        return self.finding(
            "problem",
            self.t("No answer cache", "Sem cache de respostas"),
            severity="high",
            evidence=evidence,
            cause=self.t(
                "asking the same question again calls the AI again and takes as long as the first time",
                "repetir a mesma pergunta chama a IA de novo e leva o mesmo tempo da primeira vez",
            ),
            impact=Impact(
                ms_per_request=rounded(hit_rate * first.total_ms),
                tokens_per_1k_requests=round(hit_rate * tokens * 1000) if calls else None,
                usd_per_1k_requests=round(hit_rate * cost * 1000, 4) if calls else None,
                summary=self.t(
                    "saved at a 50% hit rate (SPEC expects 70-90% on FAQ-heavy traffic)",
                    "economia com 50% de acertos (a SPEC espera 70-90% em tráfego de FAQ)",
                ),
            ),
            fix=self.t(
                "layer 1: Redis exact match on hash(normalized query + context); layer 2: embeddings with "
                "cosine >= 0.90; TTL 7 days for FAQs, 1 day for dynamic context",
                "camada 1: Redis com hash(pergunta normalizada + contexto); camada 2: embeddings com "
                "cosseno >= 0,90; TTL de 7 dias para FAQs, 1 dia para contexto dinâmico",
            ),
            switch="cache",
            confidence=confidence,
        )
