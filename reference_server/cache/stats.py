"""Counters of the cache, kept on the cache object for the metrics exporter to read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class CacheStats:
    """Hits per layer, misses, stores, why answers were not stored, which traps fired."""

    hits_exact: int = 0
    hits_semantic: int = 0
    misses: int = 0
    stores: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    trap_vetoes: Counter[str] = field(default_factory=Counter)
    invalidations: int = 0
    errors: int = 0  # lookups or stores that failed (Redis or the embedding model down)

    @property
    def lookups(self) -> int:
        return self.hits_exact + self.hits_semantic + self.misses

    @property
    def hit_rate(self) -> float:
        """Share of lookups answered from either layer (0.0 before any lookup)."""
        return (self.hits_exact + self.hits_semantic) / self.lookups if self.lookups else 0.0
