"""Per-model cooldown: a model that just failed (5xx, 429, no first token in time) rests a while."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable


class ModelCooldown:
    """Remembers until when each failing model should be skipped."""

    def __init__(self, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._until: dict[str, float] = {}
        self.trips: Counter[str] = Counter()

    def trip(self, model: str, seconds: float | None = None) -> None:
        """Put ``model`` to rest for ``seconds`` (default ``cooldown_s``)."""
        self._until[model] = self._clock() + (self.cooldown_s if seconds is None else seconds)
        self.trips[model] += 1

    def available(self, model: str) -> bool:
        until = self._until.get(model)
        if until is None:
            return True
        if until <= self._clock():
            del self._until[model]
            return True
        return False

    def resting(self) -> list[str]:
        """Models currently cooling down."""
        return [model for model in list(self._until) if not self.available(model)]
