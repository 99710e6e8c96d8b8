"""The load generator watching itself: CPU, schedule lag, dropped arrivals -> valid or not.

A run where the generator was the bottleneck measures the generator, not the target;
it is marked invalid with the reason, and ``chatopt gate`` refuses to judge it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatopt.report.result import GeneratorHealth, MetricSummary
from chatopt.report.stats import summarize

#: One gevent process runs on one core: sustained use above this means it was saturated.
CPU_LIMIT_PERCENT = 90.0
#: Open loop: P99 lateness of sends against their schedule beyond this invalidates a run.
LAG_LIMIT_MS = 50.0
#: Open loop: share of arrivals dropped (too many in flight) beyond this invalidates a run.
DROP_LIMIT = 0.001


@dataclass(frozen=True)
class SelfCheck:
    health: GeneratorHealth
    reasons: list[str]


def check_generator(
    *,
    cpu_percent: Sequence[float],
    schedule_lag_ms: Sequence[float],
    dropped: int,
    late: int,
    arrivals: int,
    processes: int,
    open_loop: bool,
) -> SelfCheck:
    """Summarize the generator's health and list every reason the run is not trustworthy.

    ``cpu_percent`` holds per-second samples of the busiest generator process.
    """
    steady = list(cpu_percent[1:]) or list(cpu_percent)
    cpu_mean = sum(steady) / len(steady) if steady else 0.0
    lag = summarize(schedule_lag_ms)
    reasons: list[str] = []
    if cpu_mean > CPU_LIMIT_PERCENT:
        reasons.append(
            f"the load generator was CPU-bound ({cpu_mean:.0f}% of a core on average): "
            "add --workers or lower the load"
        )
    if open_loop and arrivals:
        if dropped / arrivals > DROP_LIMIT:
            reasons.append(
                f"{dropped} of {arrivals} scheduled arrivals were dropped because --max-inflight requests "
                "were already in flight: the target is overloaded or --max-inflight is too low"
            )
        if lag.p99 is not None and lag.p99 > LAG_LIMIT_MS:
            reasons.append(
                f"requests left late (P99 schedule lag {lag.p99:.0f} ms > {LAG_LIMIT_MS:.0f} ms): "
                "the generator could not keep the schedule; add --workers"
            )
    health = GeneratorHealth(
        cpu_percent_mean=cpu_mean,
        cpu_percent_max=max(cpu_percent, default=0.0),
        schedule_lag_ms=MetricSummary(**lag.as_dict()),
        dropped_arrivals=dropped,
        late_arrivals=late,
        processes=processes,
    )
    return SelfCheck(health, reasons)
