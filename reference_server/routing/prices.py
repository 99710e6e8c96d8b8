"""What each model costs: USD per million input and output tokens, and the cost of one call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """USD per one million prompt (input) and completion (output) tokens."""

    input_per_million: float
    output_per_million: float

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


#: The mock LLM's tiers, priced like today's light / mid / top hosted models.
DEFAULT_PRICES: dict[str, Price] = {
    "small": Price(0.15, 0.60),
    "medium": Price(2.50, 10.0),
    "large": Price(15.0, 60.0),
}


class PriceTable:
    """Looks up a model's price; unknown models are priced like the most expensive known one."""

    def __init__(self, prices: dict[str, Price] | None = None) -> None:
        self.prices = dict(DEFAULT_PRICES if prices is None else prices)
        self._fallback = max(self.prices.values(), key=lambda p: p.output_per_million, default=Price(0, 0))

    def price(self, model: str) -> Price:
        return self.prices.get(model, self._fallback)

    def cost_usd(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        return self.price(model).cost_usd(prompt_tokens, completion_tokens)
