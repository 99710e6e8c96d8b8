"""Model prices for impact estimates: the mock LLM's tiers, or prices the user gives."""

from __future__ import annotations

from dataclasses import dataclass

from chatopt.errors import ChatoptError
from chatopt.mockllm.config import DEFAULT_TIERS, MockConfig

_MODEL_MAP = MockConfig()


@dataclass(frozen=True)
class Price:
    """US dollars per 1M input and output tokens, and the tier it came from."""

    input_per_million: float
    output_per_million: float
    tier: str

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


class PriceTable:
    """Price of a model: user-given prices first, then the mock tiers (small/medium/large)."""

    def __init__(self, overrides: dict[str, Price] | None = None) -> None:
        self.overrides = dict(overrides or {})

    def tier_of(self, model: str | None) -> str:
        if model and model in self.overrides:
            return self.overrides[model].tier
        return (_MODEL_MAP.tier_name_for(model) if model else None) or "medium"

    def price_of(self, model: str | None) -> Price:
        if model and model in self.overrides:
            return self.overrides[model]
        tier = self.tier_of(model)
        spec = DEFAULT_TIERS.get(tier, DEFAULT_TIERS["medium"])
        return Price(spec.input_usd_per_million, spec.output_usd_per_million, tier)

    def tier_price(self, tier: str) -> Price:
        spec = DEFAULT_TIERS[tier]
        return Price(spec.input_usd_per_million, spec.output_usd_per_million, tier)


def parse_price(spec: str) -> tuple[str, Price]:
    """Parse ``MODEL=IN/OUT[:TIER]`` (USD per 1M tokens), e.g. ``gpt-4o=2.5/10:medium``."""
    model, sep, rest = spec.partition("=")
    rest, _, tier = rest.partition(":")
    prices = rest.split("/")
    try:
        if not sep or not model or len(prices) != 2:
            raise ValueError
        price = Price(float(prices[0]), float(prices[1]), tier or _MODEL_MAP.tier_name_for(model) or "medium")
    except ValueError as exc:
        raise ChatoptError(
            f"cannot read price {spec!r}",
            hint="write MODEL=INPUT/OUTPUT in USD per 1M tokens, e.g. gpt-4o=2.5/10",
        ) from exc
    if price.tier not in DEFAULT_TIERS:
        raise ChatoptError(f"unknown tier {price.tier!r} in {spec!r}", hint="use small, medium or large")
    return model, price
