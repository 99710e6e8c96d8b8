"""Service-level objectives: ``"p95_ttft<=1s,error_rate<=0.1%"`` parsed and checked against a run."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatopt.errors import ChatoptError
from chatopt.report.result import RunResult

_TERM = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*([0-9.]+)\s*(ms|s|%)?\s*$")
_LATENCY = re.compile(r"^(p50|p90|p95|p99|mean|max)_(ttft|itl|tpot|e2e)$")
_HELP = "write terms like p95_ttft<=1s, p99_e2e<3000ms, error_rate<=0.1%, rps>=50, joined by commas"


@dataclass(frozen=True)
class Objective:
    """One term: ``metric op threshold`` (latencies in ms, rates as fractions)."""

    metric: str
    op: str
    threshold: float
    text: str

    def value(self, result: RunResult) -> float | None:
        if self.metric == "error_rate":
            return result.requests.error_rate
        if self.metric == "rps":
            return result.throughput.ok_requests_per_s
        stat, name = _LATENCY.match(self.metric).groups()  # type: ignore[union-attr]
        return getattr(result.metrics[f"{name}_ms"], stat)

    def met(self, result: RunResult) -> bool:
        value = self.value(result)
        if value is None:
            return False
        return {
            "<=": value <= self.threshold,
            "<": value < self.threshold,
            ">=": value >= self.threshold,
            ">": value > self.threshold,
        }[self.op]


def parse_slo(text: str) -> list[Objective]:
    """Parse comma-separated objectives; a clear error for anything else."""
    objectives = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        match = _TERM.match(part)
        if not match:
            raise ChatoptError(f"cannot read SLO term {part!r}", hint=_HELP)
        metric, op, number, unit = match.groups()
        value = float(number)
        if metric in ("error_rate",):
            threshold = value / 100 if unit == "%" else value
        elif metric == "rps":
            threshold = value
        elif _LATENCY.match(metric):
            if unit == "%":
                raise ChatoptError(f"{part!r}: a latency needs ms or s, not %", hint=_HELP)
            threshold = value * 1000 if unit == "s" else value
        else:
            raise ChatoptError(f"unknown SLO metric {metric!r} in {part!r}", hint=_HELP)
        objectives.append(Objective(metric, op, threshold, part))
    if not objectives:
        raise ChatoptError("the SLO is empty", hint=_HELP)
    return objectives


def broken_objectives(objectives: list[Objective], result: RunResult) -> list[str]:
    """The terms a run broke, each with the measured value."""
    broken = []
    for objective in objectives:
        if not objective.met(result):
            value = objective.value(result)
            shown = "no data" if value is None else f"{value:.4g}"
            broken.append(f"{objective.text} (measured {shown})")
    return broken
