"""Statistics from raw samples: exact percentiles and bootstrap confidence intervals.

Percentiles are always computed from every raw value (linear interpolation between
order statistics, numpy's default), never from rounded histogram buckets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class Summary:
    """Distribution of one metric in milliseconds."""

    count: int
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    mean: float | None
    min: float | None
    max: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return dict(self.__dict__)


def summarize(values: Sequence[float]) -> Summary:
    """Percentiles, mean, min and max of raw values (all None when there are none)."""
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return Summary(0, None, None, None, None, None, None, None)
    p50, p90, p95, p99 = (float(x) for x in np.percentile(array, PERCENTILES))
    return Summary(
        count=int(array.size),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        mean=float(array.mean()),
        min=float(array.min()),
        max=float(array.max()),
    )


@dataclass(frozen=True)
class Difference:
    """current - baseline of one percentile, with a bootstrap confidence interval."""

    baseline: float
    current: float
    delta: float
    low: float
    high: float
    confidence: float

    @property
    def relative(self) -> float:
        """delta / baseline (0 when the baseline is 0)."""
        return self.delta / self.baseline if self.baseline else 0.0


def bootstrap_percentile_difference(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    percentile: float = 95,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Difference:
    """Bootstrap CI of percentile(current) - percentile(baseline) (independent resampling)."""
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(current, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        raise ValueError("both sample sets need at least one value")
    rng = np.random.default_rng(seed)
    point_a, point_b = float(np.percentile(a, percentile)), float(np.percentile(b, percentile))
    chunk = max(1, min(resamples, 4_000_000 // max(a.size, b.size)))
    diffs: list[np.ndarray] = []
    remaining = resamples
    while remaining > 0:
        size = min(chunk, remaining)
        resampled_a = np.percentile(rng.choice(a, size=(size, a.size), replace=True), percentile, axis=1)
        resampled_b = np.percentile(rng.choice(b, size=(size, b.size), replace=True), percentile, axis=1)
        diffs.append(resampled_b - resampled_a)
        remaining -= size
    all_diffs = np.concatenate(diffs)
    tail = (1 - confidence) / 2 * 100
    low, high = (float(x) for x in np.percentile(all_diffs, [tail, 100 - tail]))
    return Difference(point_a, point_b, point_b - point_a, low, high, confidence)


def linear_trend(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of y over x and the fit's R² (0 when undefined)."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.size < 3 or np.ptp(xs) == 0:
        return 0.0, 0.0
    slope, intercept = np.polyfit(xs, ys, 1)
    predicted = slope * xs + intercept
    total = float(((ys - ys.mean()) ** 2).sum())
    r_squared = 1 - float(((ys - predicted) ** 2).sum()) / total if total > 0 else 0.0
    return float(slope), max(0.0, r_squared)
