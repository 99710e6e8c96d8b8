"""Stress: step the load up until the SLO breaks; report the highest load that met it.

Each step is a full run (users or arrival rate held for ``step_duration``). The sweep
stops at the first step that breaks the SLO (or at ``max``), so the knee of the
throughput/latency curve is found without running past it for long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from chatopt.bench.collector import LiveStats
from chatopt.bench.load import LoadPlan
from chatopt.bench.session import Prepared, execute
from chatopt.bench.slo import Objective, broken_objectives
from chatopt.report.result import RunResult
from chatopt.report.samples import Sample


@dataclass(frozen=True)
class StepPlan:
    """Loads to try, in order: ``start``, ``start + step``, ... up to ``maximum``."""

    mode: Literal["closed", "open"]
    start: float
    step: float
    maximum: float
    step_duration_s: float

    def loads(self) -> list[float]:
        values, load = [], self.start
        while load <= self.maximum + 1e-9:
            values.append(round(load, 6))
            load += self.step
        return values


@dataclass
class StepOutcome:
    load: float
    result: RunResult
    samples: list[Sample]
    broken: list[str]

    @property
    def met(self) -> bool:
        return self.result.valid and not self.broken


@dataclass
class StressOutcome:
    steps: list[StepOutcome] = field(default_factory=list)
    interrupted: bool = False

    @property
    def highest_passing(self) -> StepOutcome | None:
        passing = [step for step in self.steps if step.met]
        return passing[-1] if passing else None


def run_stress(
    prepared: Prepared,
    steps: StepPlan,
    objectives: list[Objective],
    *,
    spawn_rate: float,
    max_inflight: int,
    workers: int,
    on_step: Callable[[int, float], None] | None = None,
    on_progress: Callable[[LiveStats], None] | None = None,
    on_step_done: Callable[[StepOutcome], None] | None = None,
) -> StressOutcome:
    """Run steps until one breaks the SLO (that step is kept: it shows where it broke)."""
    outcome = StressOutcome()
    for index, load in enumerate(steps.loads()):
        if on_step is not None:
            on_step(index, load)
        plan = LoadPlan(
            mode=steps.mode,
            users=max(1, int(load)) if steps.mode == "closed" else 1,
            spawn_rate=spawn_rate,
            rate=load if steps.mode == "open" else 1.0,
            duration_s=steps.step_duration_s,
            max_inflight=max_inflight,
            workers=workers,
        )
        result, samples = execute(prepared, plan, on_progress=on_progress, kind="stress-step")
        step = StepOutcome(load, result, samples, broken_objectives(objectives, result))
        outcome.steps.append(step)
        if on_step_done is not None:
            on_step_done(step)
        if result.interrupted:
            outcome.interrupted = True
            break
        if not step.met:
            break
    return outcome


def stress_summary(outcome: StressOutcome, slo: str, mode: str) -> dict:
    """The ``extra.stress`` block of the result: the curve and the highest passing load."""
    best = outcome.highest_passing
    return {
        "slo": slo,
        "load_label": "users" if mode == "closed" else "arrival rate (req/s)",
        "highest_passing_load": best.load if best else None,
        "steps": [
            {
                "load": step.load,
                "requests_per_s": step.result.throughput.ok_requests_per_s,
                "p95_ttft_ms": step.result.metrics["ttft_ms"].p95,
                "p95_e2e_ms": step.result.metrics["e2e_ms"].p95,
                "error_rate": step.result.requests.error_rate,
                "valid": step.result.valid,
                "met": step.met,
                "broken": step.broken + ([] if step.result.valid else step.result.invalid_reasons),
            }
            for step in outcome.steps
        ],
    }
