"""``input.limits``: oversized messages, oversized bodies and malformed JSON get a clear 4xx, not a 500."""

from __future__ import annotations

import httpx

from chatopt.audit.checks.base import Check
from chatopt.audit.findings import Finding, Impact
from chatopt.audit.session import BudgetExhausted
from chatopt.targets import build_request

#: SPEC Phase 2: messages over 2,000 characters are refused.
SPEC_MAX_CHARS = 2000
LONG_MESSAGE_CHARS = 10_000
BIG_BODY_BYTES = 100 * 1024


def _looks_like_stack_trace(text: str) -> bool:
    return "Traceback (most recent call last)" in text or "\n    at " in text or 'File "/' in text


class InputLimitsCheck(Check):
    id = "input.limits"
    spec_ref = "validation"
    summary = "A 10,000-character message, a 100 KiB body and malformed JSON: clear 4xx or a 500?"
    intrusive = True
    intrusive_reason = "sends a 10,000-character message, a 100 KiB body and a malformed JSON body"

    async def run(self) -> list[Finding]:
        if self.session.target.mode == "websocket":
            return [
                self.not_enough_data("body probes need an HTTP target", "as sondas precisam de alvo HTTP")
            ]
        try:
            results = {
                "long_message": await self._long_message(),
                "big_body": await self._big_body(),
                "malformed_json": await self._malformed(),
            }
        except BudgetExhausted as exc:
            return [self.not_enough_data(f"budget spent: {exc}", f"orçamento esgotado: {exc}")]
        accepted = [name for name, r in results.items() if r["verdict"] == "accepted"]
        crashed = [name for name, r in results.items() if r["verdict"] == "crashed"]
        evidence = {"probes": results}
        findings: list[Finding] = []
        if "long_message" in accepted or "big_body" in accepted:
            tokens = results["long_message"].get("prompt_tokens")
            findings.append(
                self.finding(
                    "problem",
                    self.t("No input limit", "Sem limite de entrada"),
                    severity="high",
                    evidence=evidence,
                    cause=self.t(
                        f"accepted: {', '.join(accepted)}; a {LONG_MESSAGE_CHARS:,}-character message "
                        f"went to the AI (SPEC limit {SPEC_MAX_CHARS:,})",
                        f"aceitos: {', '.join(accepted)}; uma mensagem de {LONG_MESSAGE_CHARS:,} "
                        f"caracteres foi para a IA (limite da SPEC {SPEC_MAX_CHARS:,})",
                    ),
                    impact=Impact(
                        tokens_per_1k_requests=tokens * 1000 if tokens else None,
                        summary=self.t(
                            "prompt tokens per 1,000 oversized messages: cost and latency abuse",
                            "tokens de prompt por 1.000 mensagens enormes: abuso de custo e latência",
                        ),
                    ),
                    fix=self.t(
                        "cap the body before parsing (e.g. 64 KiB -> 413) and messages at "
                        f"{SPEC_MAX_CHARS:,} characters (-> 422 with a message that says the limit)",
                        "limite o corpo antes do parse (ex.: 64 KiB -> 413) e a mensagem em "
                        f"{SPEC_MAX_CHARS:,} caracteres (-> 422 com mensagem dizendo o limite)",
                    ),
                    switch="input_validation",
                    confidence="high",
                )
            )
        if crashed:
            findings.append(
                self.finding(
                    "problem",
                    self.t("Bad input crashes the handler", "Entrada inválida derruba o handler"),
                    severity="medium",
                    evidence=evidence,
                    spec_ref="errors",
                    cause=self.t(
                        f"answered with a 5xx or a stack trace: {', '.join(crashed)}",
                        f"respondeu com 5xx ou stack trace: {', '.join(crashed)}",
                    ),
                    fix=self.t(
                        "validate the body and answer 400/413/422 with a JSON error that says what to fix",
                        "valide o corpo e responda 400/413/422 com um erro JSON que diga o que corrigir",
                    ),
                    switch="input_validation",
                    confidence="high",
                )
            )
        if not findings:
            findings.append(
                self.finding(
                    "ok",
                    self.t("Bad input gets a clear 4xx", "Entrada inválida recebe 4xx claro"),
                    evidence=evidence,
                    confidence="high",
                )
            )
        return findings

    async def _long_message(self) -> dict:
        probe = await self.session.chat(
            "Please repeat: " + "lorem ipsum " * (LONG_MESSAGE_CHARS // 12), timeout_s=20
        )
        result = self._classify(probe.exchange.status, probe.exchange.sample, probe.exchange.error_kind)
        tokens = [c.prompt_tokens for c in probe.chat_calls if c.prompt_tokens]
        if tokens:
            result["prompt_tokens"] = max(tokens)
            if result["verdict"] != "accepted":
                result["reached_ai"] = True
        return result

    async def _big_body(self) -> dict:
        request = build_request(self.session.target, "lorem ipsum " * (BIG_BODY_BYTES // 12))
        return await self._send_raw(request.body, request.headers)

    async def _malformed(self) -> dict:
        request = build_request(self.session.target, "hello")
        return await self._send_raw(request.body[: max(len(request.body) // 2, 1)], request.headers)

    async def _send_raw(self, body: bytes, headers: dict[str, str]) -> dict:
        try:
            response = await self.session.request(
                self.session.target.method,
                self.session.target.url,
                content=body,
                headers=headers,
                timeout_s=10,
            )
        except httpx.TimeoutException:
            return {"status": None, "verdict": "accepted", "note": "no answer within 10 s: it was processed"}
        except httpx.HTTPError as exc:
            return {"status": None, "verdict": "rejected", "note": f"connection closed: {type(exc).__name__}"}
        return self._classify(response.status_code, response.text[:2000], None)

    @staticmethod
    def _classify(status: int, sample: str, error_kind: str | None) -> dict:
        if error_kind == "timeout":
            return {
                "status": status or None,
                "verdict": "accepted",
                "note": "still processing at the timeout",
            }
        if status >= 500 or _looks_like_stack_trace(sample):
            verdict = "crashed"
        elif 400 <= status < 500:
            verdict = "rejected"
        else:
            verdict = "accepted"
        return {"status": status, "verdict": verdict, "body": sample[:160]}
