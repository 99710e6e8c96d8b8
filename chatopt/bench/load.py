"""Load shapes: closed-loop users, open-loop arrival rates (constant or Poisson), and stages.

Closed loop: ``users`` each run conversations back to back (with think time), spawned
at ``spawn_rate`` per second. Open loop: requests arrive at ``rate`` per second on a
schedule fixed in advance, whether or not earlier ones finished; each request's clock
starts at its *scheduled* time, so a slow target or a busy generator shows up in TTFT
instead of silently lowering the load (no coordinated omission). Stages change users
or rate over time (a ramp is a list of stages).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from chatopt.errors import ChatoptError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | float | int) -> float:
    """``"90s"``, ``"5m"``, ``"24h"``, ``"250ms"`` or a number of seconds, as seconds."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise ChatoptError(f"bad duration {text!r}", hint="write e.g. 30s, 5m, 24h or 250ms")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ChatoptError(f"duration {text!r} must be positive")
    return seconds


class Stage(BaseModel):
    """Hold ``users`` (closed loop) or ``rate`` (open loop) for ``duration_s``."""

    duration_s: float = Field(gt=0)
    users: int | None = Field(None, ge=0)
    rate: float | None = Field(None, ge=0)


class LoadPlan(BaseModel):
    """What load to apply and for how long."""

    mode: Literal["closed", "open"]
    users: int = Field(1, ge=1)
    spawn_rate: float = Field(10.0, gt=0)
    rate: float = Field(1.0, gt=0)
    poisson: bool = False
    duration_s: float = Field(gt=0)
    stages: list[Stage] = Field(default_factory=list)
    max_inflight: int = Field(
        1000, ge=1, description="open loop: arrivals beyond this many in flight are dropped"
    )
    workers: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _stages_fit_mode(self) -> LoadPlan:
        key = "users" if self.mode == "closed" else "rate"
        for index, stage in enumerate(self.stages):
            if getattr(stage, key) is None:
                raise ValueError(f"stage {index} needs '{key}' for a {self.mode}-loop run")
        if self.stages:
            self.duration_s = sum(stage.duration_s for stage in self.stages)
        return self

    def peak_users(self) -> int:
        if self.stages:
            return max(stage.users or 0 for stage in self.stages)
        return self.users

    def rate_at(self, elapsed_s: float) -> float:
        """The open-loop arrival rate in effect ``elapsed_s`` into the run."""
        if not self.stages:
            return self.rate
        end = 0.0
        for stage in self.stages:
            end += stage.duration_s
            if elapsed_s < end:
                return stage.rate or 0.0
        return self.stages[-1].rate or 0.0

    def users_at(self, elapsed_s: float) -> int:
        """The closed-loop user count in effect ``elapsed_s`` into the run."""
        if not self.stages:
            return self.users
        end = 0.0
        for stage in self.stages:
            end += stage.duration_s
            if elapsed_s < end:
                return stage.users or 0
        return self.stages[-1].users or 0


def arrival_offsets(plan: LoadPlan, *, share: float = 1.0, seed: int | None = None) -> Iterator[float]:
    """Scheduled arrival times (seconds from the run start) for one generator process.

    ``share`` is this process's fraction of the total rate (1/workers). Constant rate
    spaces arrivals evenly; Poisson draws exponential gaps. Fixed before anything is
    sent, so the schedule never bends to the target's speed.
    """
    rng = random.Random(seed)
    t = 0.0
    while t < plan.duration_s:
        rate = plan.rate_at(t) * share
        stage_end = _next_stage_start(plan, t)
        if rate <= 0:
            t = stage_end
            continue
        gap = rng.expovariate(rate) if plan.poisson else 1.0 / rate
        if t + gap >= stage_end and stage_end < plan.duration_s:
            t = stage_end  # the next stage's rate takes over at its boundary
            continue
        t += gap
        if t >= plan.duration_s:
            return
        yield t


def _next_stage_start(plan: LoadPlan, t: float) -> float:
    end = 0.0
    for stage in plan.stages:
        end += stage.duration_s
        if t < end:
            return end
    return plan.duration_s
