"""Which faults a request gets: drawn from the configured rates, or asked for in a header.

The ``X-Mock-Fault`` request header replaces the configured draw for that request.
It holds comma-separated items, each ``name`` or ``name=value``:

- ``error`` or ``error=500`` / ``error=503``: answer with that server error at once;
- ``rate-limit`` or ``rate-limit=SECONDS``: 429 with ``Retry-After``;
- ``hang`` or ``hang=SECONDS``: send nothing, then give up with 504 (default: the config's ``hang_s``);
- ``slow-first-token=MS``: add this much to the time to first token;
- ``cut`` or ``cut=TOKENS``: drop the connection after this many answer tokens;
- ``bad-answer=empty|refusal|short``: a low-quality answer, for testing quality checks;
- ``none``: no fault at all, whatever the configured rates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import get_args

from chatopt.mockllm.config import BadAnswerKind, Faults

FAULT_HEADER = "x-mock-fault"


class FaultHeaderError(ValueError):
    """The ``X-Mock-Fault`` header asks for something the mock does not know."""


@dataclass(frozen=True)
class FaultPlan:
    """The faults one request gets (all ``None`` / zero: a healthy answer)."""

    error_status: int | None = None
    retry_after_s: float | None = None
    hang_s: float | None = None
    extra_first_token_ms: float = 0.0
    cut_after_tokens: int | None = None
    bad_answer: BadAnswerKind | None = None


HEALTHY = FaultPlan()


def draw_faults(faults: Faults, rng: random.Random) -> FaultPlan:
    """Draw one request's faults from the configured rates (each fault independently)."""
    if not any(
        (
            faults.error_rate,
            faults.rate_limit_rate,
            faults.hang_rate,
            faults.slow_first_token_rate,
            faults.cut_rate,
            faults.bad_answer_rate,
        )
    ):
        return HEALTHY
    return FaultPlan(
        error_status=faults.error_status if rng.random() < faults.error_rate else None,
        retry_after_s=faults.retry_after_s if rng.random() < faults.rate_limit_rate else None,
        hang_s=faults.hang_s if rng.random() < faults.hang_rate else None,
        extra_first_token_ms=faults.slow_first_token_ms
        if rng.random() < faults.slow_first_token_rate
        else 0.0,
        cut_after_tokens=faults.cut_after_tokens if rng.random() < faults.cut_rate else None,
        bad_answer=faults.bad_answer_kind if rng.random() < faults.bad_answer_rate else None,
    )


def _number(name: str, value: str | None, default: float, *, minimum: float = 0) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise FaultHeaderError(f"{name}={value!r}: the value must be a number") from None
    if number < minimum:
        raise FaultHeaderError(f"{name}={value!r}: the value must be at least {minimum:g}")
    return number


def parse_fault_header(header: str, faults: Faults) -> FaultPlan:
    """Turn an ``X-Mock-Fault`` header into a plan; defaults for missing values come from ``faults``."""
    plan: dict[str, object] = {}
    for item in header.split(","):
        name, _, raw = item.strip().partition("=")
        name = name.strip().lower()
        value = raw.strip() or None
        if not name or name == "none":
            continue
        if name == "error":
            status = int(_number(name, value, faults.error_status))
            if status not in (500, 502, 503):
                raise FaultHeaderError(f"error={value}: choose 500, 502 or 503")
            plan["error_status"] = status
        elif name == "rate-limit":
            plan["retry_after_s"] = _number(name, value, faults.retry_after_s)
        elif name == "hang":
            plan["hang_s"] = _number(name, value, faults.hang_s)
        elif name == "slow-first-token":
            plan["extra_first_token_ms"] = _number(name, value, faults.slow_first_token_ms)
        elif name == "cut":
            plan["cut_after_tokens"] = int(_number(name, value, faults.cut_after_tokens))
        elif name == "bad-answer":
            kinds = get_args(BadAnswerKind)
            kind = value or faults.bad_answer_kind
            if kind not in kinds:
                raise FaultHeaderError(f"bad-answer={value}: choose {', '.join(kinds)}")
            plan["bad_answer"] = kind
        else:
            raise FaultHeaderError(
                f"unknown fault {name!r}: use error, rate-limit, hang, slow-first-token, cut, "
                "bad-answer or none"
            )
    return FaultPlan(**plan)  # type: ignore[arg-type]
