"""The CI gate: does the current run's P95 regress against the baseline, beyond noise?

A regression needs all three: the P95 grew by more than ``max_regression`` (relative),
by more than ``min_abs_ms``, and the bootstrap confidence interval of the difference
lies entirely above zero (so run-to-run noise does not fail a build). Invalid input or
an invalid run (the generator was the bottleneck, no samples, a different scenario)
is neither pass nor fail: exit code 2.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from pydantic import BaseModel, Field

from chatopt.report.result import RunResult, metric_values
from chatopt.report.samples import Sample
from chatopt.report.stats import bootstrap_percentile_difference

GateMetric = Literal["ttft", "e2e", "itl", "tpot"]


class GateStatus(IntEnum):
    """The gate's answer, which is also the process exit code."""

    PASS = 0
    REGRESSION = 1
    INVALID = 2


class GateVerdict(BaseModel):
    """What the gate decided and why."""

    status: GateStatus
    metric: str
    baseline_p95_ms: float | None = None
    current_p95_ms: float | None = None
    delta_ms: float | None = None
    relative: float | None = None
    ci_low_ms: float | None = None
    ci_high_ms: float | None = None
    confidence: float = 0.95
    max_regression: float
    min_abs_ms: float
    reasons: list[str] = Field(default_factory=list)
    baseline_valid: bool = True
    current_valid: bool = True

    @property
    def label(self) -> str:
        return {GateStatus.PASS: "pass", GateStatus.REGRESSION: "regression", GateStatus.INVALID: "invalid"}[
            self.status
        ]


def parse_percent(text: str) -> float:
    """``"10%"`` or ``"0.1"`` as a fraction."""
    value = text.strip()
    fraction = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    if fraction < 0:
        raise ValueError(f"{text!r} must not be negative")
    return fraction


def run_gate(
    baseline: RunResult,
    current: RunResult,
    baseline_samples: list[Sample] | None,
    current_samples: list[Sample] | None,
    *,
    metric: GateMetric = "ttft",
    max_regression: float = 0.10,
    min_abs_ms: float = 20.0,
    confidence: float = 0.95,
    resamples: int = 2000,
) -> GateVerdict:
    """Judge current against baseline on the P95 of ``metric``."""
    key = f"{metric}_ms"
    verdict = GateVerdict(
        status=GateStatus.INVALID,
        metric=key,
        max_regression=max_regression,
        min_abs_ms=min_abs_ms,
        confidence=confidence,
        baseline_valid=baseline.valid,
        current_valid=current.valid,
    )
    for label, result in (("baseline", baseline), ("current", current)):
        if not result.valid:
            verdict.reasons.append(f"the {label} run is invalid: {'; '.join(result.invalid_reasons)}")
    if baseline.scenario.name != current.scenario.name:
        verdict.reasons.append(
            f"the runs used different scenarios ({baseline.scenario.name} vs {current.scenario.name})"
        )
    if baseline_samples is None or current_samples is None:
        verdict.reasons.append("raw samples are missing: keep samples.csv next to each result.json")
    if verdict.reasons:
        return verdict
    assert baseline_samples is not None and current_samples is not None
    before, after = metric_values(baseline_samples, key), metric_values(current_samples, key)
    if not before or not after:
        which = "baseline" if not before else "current"
        verdict.reasons.append(f"the {which} run has no {key} values (every request failed?)")
        return verdict
    difference = bootstrap_percentile_difference(
        before, after, percentile=95, confidence=confidence, resamples=resamples
    )
    verdict.baseline_p95_ms, verdict.current_p95_ms = difference.baseline, difference.current
    verdict.delta_ms, verdict.relative = difference.delta, difference.relative
    verdict.ci_low_ms, verdict.ci_high_ms = difference.low, difference.high
    too_slow = difference.relative > max_regression and difference.delta > min_abs_ms
    if too_slow and difference.low > 0:
        verdict.status = GateStatus.REGRESSION
        verdict.reasons.append(
            f"P95 {key} grew {difference.relative:+.1%} ({difference.delta:+.1f} ms), over the "
            f"{max_regression:.0%} / {min_abs_ms:g} ms limits, and the {confidence:.0%} CI "
            f"[{difference.low:+.1f}, {difference.high:+.1f}] ms excludes zero"
        )
    else:
        verdict.status = GateStatus.PASS
        why = "within the limits" if not too_slow else "not significant (the CI includes zero)"
        verdict.reasons.append(
            f"P95 {key} changed {difference.relative:+.1%} ({difference.delta:+.1f} ms): {why}"
        )
    return verdict
