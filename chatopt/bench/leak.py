"""Leak verdict: does memory (or FDs, threads) keep growing with the work done, after warm-up?

Each resource series is fitted against the number of requests served (not wall time,
so a quiet hour does not hide or fake a leak). A leak is a clear upward line: slope
per 1,000 requests above the series' limit AND R² at or above ``MIN_R_SQUARED``.
Warm-up (caches filling, pools growing) is skipped first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from chatopt.report.stats import linear_trend

#: Growth per 1,000 requests above which a steady climb counts as a leak.
LEAK_LIMITS: dict[str, float] = {"rss_mb": 0.5, "fds": 1.0, "threads": 0.5}
MIN_R_SQUARED = 0.5
MIN_POINTS = 5
#: Fewer requests than this after warm-up cannot separate a leak from filling caches.
MIN_REQUESTS = 1000


@dataclass(frozen=True)
class SeriesTrend:
    slope_per_1000_requests: float
    r_squared: float
    start: float
    end: float
    points: int
    leak: bool


@dataclass(frozen=True)
class LeakVerdict:
    verdict: str
    trends: dict[str, SeriesTrend]

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "trends": {name: asdict(trend) for name, trend in self.trends.items()},
        }


def after_warmup(points: Sequence[tuple[float, float]], warmup_fraction: float) -> list[tuple[float, float]]:
    """Drop the first ``warmup_fraction`` of the requests axis."""
    if not points:
        return []
    last = max(x for x, _ in points)
    cutoff = last * warmup_fraction
    return [(x, y) for x, y in points if x >= cutoff]


def judge_leaks(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    warmup_fraction: float = 0.2,
    limits: Mapping[str, float] = LEAK_LIMITS,
    min_requests: int = MIN_REQUESTS,
) -> LeakVerdict:
    """Fit each series of ``(requests_done, value)`` after warm-up and name the leaks."""
    trends: dict[str, SeriesTrend] = {}
    for name, points in series.items():
        kept = after_warmup(points, warmup_fraction)
        if len(kept) < MIN_POINTS:
            continue
        slope, r_squared = linear_trend([x for x, _ in kept], [y for _, y in kept])
        per_thousand = slope * 1000
        limit = limits.get(name.split(":")[0])
        leak = limit is not None and per_thousand > limit and r_squared >= MIN_R_SQUARED
        trends[name] = SeriesTrend(per_thousand, r_squared, kept[0][1], kept[-1][1], len(kept), leak)
    leaking = [name for name, trend in trends.items() if trend.leak]
    resources = [name for name in series if name.split(":")[0] in limits]
    spans = [after_warmup(series[name], warmup_fraction) for name in resources]
    served = max((points[-1][0] - points[0][0] for points in spans if points), default=0)
    if resources and served < min_requests:
        return LeakVerdict(
            f"inconclusive: only {served:.0f} requests after warm-up; a verdict needs {min_requests:,}",
            trends,
        )
    if leaking:
        details = ", ".join(
            f"{name} +{trend.slope_per_1000_requests:.3g}/1k requests (R² {trend.r_squared:.2f})"
            for name, trend in trends.items()
            if trend.leak
        )
        verdict = f"leak: {details}"
    elif not any(name.split(":")[0] in limits for name in trends):
        verdict = "inconclusive: too few resource samples after warm-up (give --pid, or run longer)"
    else:
        verdict = "no leak: resources flat after warm-up"
    return LeakVerdict(verdict, trends)
