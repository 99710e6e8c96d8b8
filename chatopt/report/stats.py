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
    max_values: int = 20_000,
) -> Difference:
    """Bootstrap CI of percentile(current) - percentile(baseline), each side resampled on its own.

    A side with more than ``max_values`` values is bootstrapped from a random subset of
    that size and its spread scaled by sqrt(m/n) (the m-out-of-n bootstrap), so large
    runs stay fast; the point estimates always use every value.
    """
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(current, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        raise ValueError("both sample sets need at least one value")
    rng = np.random.default_rng(seed)
    point_a, point_b = float(np.percentile(a, percentile)), float(np.percentile(b, percentile))
    spread_a = _bootstrap_spread(a, percentile, resamples, rng, max_values)
    spread_b = _bootstrap_spread(b, percentile, resamples, rng, max_values)
    diffs = (point_b + spread_b) - (point_a + spread_a)
    tail = (1 - confidence) / 2 * 100
    low, high = (float(x) for x in np.percentile(diffs, [tail, 100 - tail]))
    return Difference(point_a, point_b, point_b - point_a, low, high, confidence)


def _bootstrap_spread(
    values: np.ndarray, percentile: float, resamples: int, rng: np.random.Generator, max_values: int
) -> np.ndarray:
    """Bootstrap replicates of the percentile minus its point estimate."""
    scale = 1.0
    if values.size > max_values:
        scale = float(np.sqrt(max_values / values.size))
        values = rng.choice(values, size=max_values, replace=False)
    point = np.percentile(values, percentile)
    batch = max(1, 2_000_000 // values.size)
    replicates = []
    for start in range(0, resamples, batch):
        size = min(batch, resamples - start)
        draws = rng.choice(values, size=(size, values.size), replace=True)
        replicates.append(np.percentile(draws, percentile, axis=1))
    return (np.concatenate(replicates) - point) * scale


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
