"""How big a demo run is: scenarios, durations, audit budget, ladder and SPEC-sized tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["quick", "default", "full"]


@dataclass(frozen=True)
class ScenarioLoad:
    """One bench run of a scenario: closed-loop users for a duration."""

    scenario: str
    users: int
    duration_s: float
    purpose: str


@dataclass(frozen=True)
class LadderStep:
    """One step of the zero-downtime migration: the switches on after it."""

    name: str
    adds: tuple[str, ...]
    rollback: str


#: SPEC's zero-downtime plan in its order (cache -> streaming -> routing -> DB ->
#: monitoring), with context windowing and async I/O, then the Phase 2 hardening.
MIGRATION_LADDER: tuple[LadderStep, ...] = (
    LadderStep("1. semantic cache", ("cache",), "--set cache=false: every request goes upstream again"),
    LadderStep("2. streaming", ("streaming",), "--set streaming=false: clients get the JSON reply as before"),
    LadderStep("3. model routing", ("routing",), "--set routing=false: every request uses default_model"),
    LadderStep("4. context window", ("context_window",), "--set context_window=false: full history again"),
    LadderStep(
        "5. async I/O + tiered storage",
        ("async_io", "tiered_storage"),
        "--set async_io=false --set tiered_storage=false: same tables, blocking writes",
    ),
    LadderStep("6. monitoring", ("monitoring",), "--set monitoring=false: no /metrics, plain logs"),
    LadderStep(
        "7. realtime + limits + hardening",
        ("websocket", "rate_limits", "input_validation", "resilience"),
        "switch each off alone: --set rate_limits=false, ...",
    ),
)


@dataclass(frozen=True)
class DemoPlan:
    """Everything that differs between ``--quick``, the default and ``--full``."""

    mode: Mode
    scenarios: tuple[ScenarioLoad, ...]
    audit_seconds: float
    audit_max_requests: int
    ladder_scenario: ScenarioLoad | None
    stress_users: tuple[int, int, int] | None = None  # start, step, max
    stress_step_s: float = 0.0
    soak_s: float = 0.0
    big_load_users: int = 0
    big_load_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def plan_for(mode: Mode, soak_s: float = 0.0) -> DemoPlan:
    """The plan of a mode; ``soak_s`` sets the soak length of ``--full``."""
    if mode == "quick":
        return DemoPlan(
            mode=mode,
            scenarios=(
                ScenarioLoad("mixed", 12, 15, "perceived latency, routing, API cost and cache hits"),
                ScenarioLoad("long-conversation", 3, 18, "tokens per request as a conversation grows"),
            ),
            audit_seconds=30,
            audit_max_requests=150,
            ladder_scenario=None,
        )
    base = DemoPlan(
        mode=mode,
        scenarios=(
            ScenarioLoad("mixed", 20, 45, "perceived latency, routing and API cost"),
            ScenarioLoad("faq", 20, 30, "cache hit rate"),
            ScenarioLoad("long-conversation", 3, 60, "tokens per request as a conversation grows"),
        ),
        audit_seconds=60,
        audit_max_requests=150,
        ladder_scenario=ScenarioLoad("mixed", 12, 15, "each migration step"),
        stress_users=(10, 20, 100),
        stress_step_s=10,
    )
    if mode == "default":
        return base
    return DemoPlan(
        mode=mode,
        scenarios=base.scenarios,
        audit_seconds=60,
        audit_max_requests=150,
        ladder_scenario=ScenarioLoad("mixed", 20, 30, "each migration step"),
        stress_users=(100, 200, 2000),
        stress_step_s=20,
        soak_s=soak_s or 600,
        big_load_users=1000,
        big_load_s=120,
    )
