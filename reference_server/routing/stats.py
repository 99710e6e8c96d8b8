"""Counters of the model router, kept on the router for the metrics exporter and reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RoutingStats:
    """Decisions per tier, escalations and error fallbacks by reason, calls and cost per model."""

    decisions: Counter[str] = field(default_factory=Counter)
    escalations: Counter[str] = field(default_factory=Counter)
    fallbacks: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    cost_usd: Counter[str] = field(default_factory=Counter)
    unrecoverable: Counter[str] = field(default_factory=Counter)

    @property
    def total_cost_usd(self) -> float:
        return sum(self.cost_usd.values())
