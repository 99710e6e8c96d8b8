"""Optional second opinion on spam from the small model (``spam_llm_classifier`` setting).

Runs after the cheap heuristics and before the answering call, so it costs one short call
on the light tier per message. It fails open: a slow or failing classifier lets the message
through rather than refusing users because of an outage.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("reference_server.security")

INSTRUCTIONS = (
    "You screen messages sent to a customer-support chat assistant. Reply with exactly one word: "
    "'spam' for advertising, scams, link farming, or meaningless filler; 'ok' for anything a real "
    "user might ask, in any language."
)


class LlmSpamClassifier:
    """Asks ``model`` through ``llm`` (the server's LLM client) for a one-word verdict."""

    def __init__(self, llm: Any, model: str, timeout_s: float = 3.0) -> None:
        self.llm = llm
        self.model = model
        self.timeout_s = timeout_s

    async def is_spam(self, text: str) -> bool:
        """True only on a clear 'spam' verdict; any failure or other answer counts as not spam."""
        messages = [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": text}]
        try:
            async with asyncio.timeout(self.timeout_s):
                completion = await self.llm.complete(messages, self.model, max_tokens=3)
        except Exception as exc:  # fail open: the heuristics already ran
            log.warning("spam classifier unavailable (%s); message let through", type(exc).__name__)
            return False
        return completion.text.strip().lower().startswith("spam")
