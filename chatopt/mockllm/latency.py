"""When each answer token is due: the latency model turned into absolute offsets.

Token ``i`` is due ``ttft + gap_1 + ... + gap_i`` seconds after the request arrived.
The server sleeps until each absolute deadline rather than chaining sleeps, so a
late wake-up never pushes the rest of the answer later.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from chatopt.mockllm.config import Tier


@dataclass(frozen=True)
class Schedule:
    """Configured timing of one answer, in seconds after the request arrived."""

    time_to_first_token_s: float
    token_offsets_s: tuple[float, ...]

    @property
    def total_s(self) -> float:
        """When the last token is due (the TTFT when there are no tokens)."""
        return self.token_offsets_s[-1] if self.token_offsets_s else self.time_to_first_token_s


def plan_schedule(
    tier: Tier,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    rng: random.Random,
    extra_first_token_ms: float = 0.0,
) -> Schedule:
    """Draw the TTFT (base + prefill + jitter + injected delay) and the inter-token gaps."""
    ttft_ms = tier.time_to_first_token_ms(prompt_tokens) + extra_first_token_ms
    if tier.jitter_ms:
        ttft_ms += rng.uniform(-tier.jitter_ms, tier.jitter_ms)
    ttft_s = max(ttft_ms, 0.0) / 1000
    gap_s = 1.0 / tier.tokens_per_second
    offsets = []
    at = ttft_s
    for index in range(completion_tokens):
        if index:
            at += (
                gap_s * (1 + rng.uniform(-tier.token_jitter, tier.token_jitter))
                if tier.token_jitter
                else gap_s
            )
        offsets.append(at)
    return Schedule(ttft_s, tuple(offsets))
