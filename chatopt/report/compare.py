"""Before/after: deltas of every metric's percentiles with bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from chatopt.report.result import METRIC_NAMES, RunResult, load_result, load_samples, metric_values
from chatopt.report.samples import Sample
from chatopt.report.stats import bootstrap_percentile_difference

COMPARED_PERCENTILES = ("p50", "p95", "p99")


class Delta(BaseModel):
    """One percentile of one metric, before and after."""

    metric: str
    percentile: str
    baseline: float | None
    current: float | None
    delta: float | None
    relative: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    significant: bool = Field(False, description="the confidence interval excludes zero")


class Comparison(BaseModel):
    """Everything ``chatopt compare`` reports."""

    baseline_label: str
    current_label: str
    baseline: RunResult
    current: RunResult
    deltas: list[Delta]
    bootstrap: bool
    confidence: float
    notes: list[str] = Field(default_factory=list)

    def delta(self, metric: str, percentile: str) -> Delta:
        for item in self.deltas:
            if item.metric == metric and item.percentile == percentile:
                return item
        raise KeyError((metric, percentile))


def compare_runs(
    baseline: RunResult,
    current: RunResult,
    baseline_samples: Sequence[Sample] | None,
    current_samples: Sequence[Sample] | None,
    *,
    labels: tuple[str, str] = ("baseline", "current"),
    confidence: float = 0.95,
    resamples: int = 2000,
) -> Comparison:
    """Deltas (current - baseline) for p50/p95/p99 of TTFT, ITL, TPOT and E2E."""
    notes: list[str] = []
    bootstrap = baseline_samples is not None and current_samples is not None
    if not bootstrap:
        notes.append("raw samples missing: deltas without confidence intervals")
    if baseline.scenario.name != current.scenario.name:
        notes.append(f"different scenarios: {baseline.scenario.name} vs {current.scenario.name}")
    if baseline.load.model_dump() != current.load.model_dump():
        notes.append("the runs applied different load")
    for label, result in zip(labels, (baseline, current), strict=True):
        if not result.valid:
            notes.append(f"{label} run is invalid: {'; '.join(result.invalid_reasons)}")
    deltas: list[Delta] = []
    for metric in METRIC_NAMES:
        before_values = metric_values(baseline_samples, metric) if bootstrap else []
        after_values = metric_values(current_samples, metric) if bootstrap else []
        for name in COMPARED_PERCENTILES:
            before = getattr(baseline.metrics.get(metric), name, None)
            after = getattr(current.metrics.get(metric), name, None)
            delta = Delta(
                metric=metric,
                percentile=name,
                baseline=before,
                current=after,
                delta=None if before is None or after is None else after - before,
                relative=None if not before or after is None else (after - before) / before,
            )
            if before_values and after_values:
                difference = bootstrap_percentile_difference(
                    before_values,
                    after_values,
                    percentile=float(name[1:]),
                    confidence=confidence,
                    resamples=resamples,
                )
                delta.ci_low, delta.ci_high = difference.low, difference.high
                delta.significant = difference.low > 0 or difference.high < 0
            deltas.append(delta)
    return Comparison(
        baseline_label=labels[0],
        current_label=labels[1],
        baseline=baseline,
        current=current,
        deltas=deltas,
        bootstrap=bootstrap,
        confidence=confidence,
        notes=notes,
    )


def load_run(path: Path) -> tuple[RunResult, list[Sample] | None]:
    """A result and its raw samples (None when the samples file is gone)."""
    result = load_result(path)
    return result, load_samples(result, path)
