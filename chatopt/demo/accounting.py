"""What the upstream LLM was asked for during a run, from the tap's trace: tokens and dollars."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, Field

from chatopt.audit.prices import PriceTable
from chatopt.tap.calls import AICall


class UpstreamUsage(BaseModel):
    """Every AI call one run caused, summed; per-request figures divide by user requests."""

    user_requests: int
    chat_calls: int
    embedding_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    calls_by_model: dict[str, int] = Field(default_factory=dict)

    @property
    def prompt_tokens_per_request(self) -> float | None:
        return self.prompt_tokens / self.user_requests if self.user_requests else None

    @property
    def cost_per_1k_requests(self) -> float | None:
        return 1000 * self.cost_usd / self.user_requests if self.user_requests else None

    @property
    def upstream_calls_per_request(self) -> float | None:
        return self.chat_calls / self.user_requests if self.user_requests else None


def usage_of(calls: Sequence[AICall], user_requests: int, prices: PriceTable | None = None) -> UpstreamUsage:
    """Sum the chat and embedding calls of a trace slice (server usage first, else exact counts)."""
    prices = prices or PriceTable()
    prompt = completion = 0
    cost = 0.0
    by_model: Counter[str] = Counter()
    chat_calls = embedding_calls = 0
    for call in calls:
        if call.kind == "embeddings":
            embedding_calls += 1
            continue
        if call.kind != "chat":
            continue
        chat_calls += 1
        by_model[call.model or "?"] += 1
        call_prompt = _first(call.usage_prompt_tokens, call.prompt_tokens)
        call_completion = _first(call.usage_completion_tokens, call.completion_tokens)
        prompt += call_prompt
        completion += call_completion
        cost += prices.price_of(call.model).cost(call_prompt, call_completion)
    return UpstreamUsage(
        user_requests=user_requests,
        chat_calls=chat_calls,
        embedding_calls=embedding_calls,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost,
        calls_by_model=dict(by_model),
    )


def _first(*values: int | None) -> int:
    return next((value for value in values if value is not None), 0)
