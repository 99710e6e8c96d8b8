"""Event-loop lag monitor: a heartbeat task measuring how late ``asyncio.sleep`` wakes.

Anything that blocks the loop (a sync DB write, a big tokenization) delays every
wake-up; the lateness of a periodic sleep is therefore the loop's lag. Recent samples
are kept so P50/P99/max describe the last minute or so.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class LoopLagSnapshot:
    """Lag statistics over the recent samples, in milliseconds."""

    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    interval_ms: float


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class LoopLagMonitor:
    """Heartbeat every ``interval_s``; keeps the last ``window`` lag samples in seconds."""

    def __init__(self, interval_s: float = 0.05, window: int = 1200) -> None:
        self.interval_s = interval_s
        self._samples: deque[float] = deque(maxlen=window)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._beat(), name="loop-lag-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _beat(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            self.record(max(0.0, time.perf_counter() - started - self.interval_s))

    def record(self, lag_s: float) -> None:
        """Add one lag sample (seconds)."""
        self._samples.append(lag_s)

    def reset(self) -> None:
        """Forget the samples (benchmarks reset before measuring a load phase)."""
        self._samples.clear()

    def snapshot(self) -> LoopLagSnapshot:
        samples = list(self._samples)
        return LoopLagSnapshot(
            samples=len(samples),
            p50_ms=percentile(samples, 0.50) * 1000,
            p99_ms=percentile(samples, 0.99) * 1000,
            max_ms=max(samples, default=0.0) * 1000,
            interval_ms=self.interval_s * 1000,
        )
