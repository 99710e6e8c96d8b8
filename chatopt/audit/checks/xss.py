"""``input.xss``: is HTML in a message reflected back raw, or forwarded to the AI unsanitized?"""

from __future__ import annotations

from chatopt.audit.checks.base import Check
from chatopt.audit.findings import Finding
from chatopt.audit.session import BudgetExhausted

PAYLOAD = '<script>alert("chatopt")</script><img src=x onerror=alert(1)> what does this markup do?'
MARKERS = ("<script", "onerror=")


class XssCheck(Check):
    id = "input.xss"
    spec_ref = "validation"
    summary = "Sends a message with a <script> tag: is it reflected raw, or forwarded to the AI as is?"

    async def run(self) -> list[Finding]:
        try:
            probe = await self.session.chat(PAYLOAD)
        except BudgetExhausted as exc:
            return [self.not_enough_data(f"budget spent: {exc}", f"orçamento esgotado: {exc}")]
        reflected = any(marker in probe.exchange.answer for marker in MARKERS) or (
            not probe.ok and any(marker in probe.exchange.sample for marker in MARKERS)
        )
        forwarded = [c for c in probe.chat_calls if c.last_user_message and "<script" in c.last_user_message]
        evidence = {
            "status": probe.exchange.status,
            "reflected_in_response": reflected,
            "forwarded_raw_to_ai": bool(forwarded) if self.session.tap else None,
        }
        if reflected:
            return [
                self.finding(
                    "problem",
                    self.t("Markup reflected raw (XSS)", "Markup refletido cru (XSS)"),
                    severity="high",
                    evidence=evidence,
                    cause=self.t(
                        "a <script> tag sent by the user came back unescaped in the response",
                        "uma tag <script> enviada pelo usuário voltou sem escape na resposta",
                    ),
                    fix=self.t(
                        "sanitize input (nh3/bleach allow-list) and escape output",
                        "sanitize a entrada (allow-list nh3/bleach) e escape a saída",
                    ),
                    switch="input_validation",
                    confidence="high",
                )
            ]
        return [
            self.finding(
                "ok", self.t("No raw reflection", "Sem reflexão crua"), evidence=evidence, confidence="medium"
            )
        ]
