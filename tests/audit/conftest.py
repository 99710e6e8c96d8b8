"""Fixtures for auditing: a mock LLM with real-ish latency, a tap port, and a runner helper."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from chatopt.audit.findings import AuditResult
from chatopt.audit.runner import run_audit
from chatopt.audit.session import AuditOptions
from chatopt.targets import Target
from tests.services import free_port

#: Slow enough that a blocked event loop shows (each call ~150 ms), fast enough for a short suite.
LATENCY = {
    "base_ms": 120,
    "prefill_ms_per_token": 0.0,
    "tokens_per_second": 2000,
    "jitter_ms": 0,
    "token_jitter": 0,
}


@pytest.fixture
def audit_llm(start_mock_llm):
    """A mock LLM of the test's own whose tiers all take ~250 ms per answer."""
    return start_mock_llm({"tiers": {tier: LATENCY for tier in ("small", "medium", "large")}})


@pytest.fixture
def tap_port() -> int:
    return free_port()


@pytest.fixture
def audit(audit_llm, tap_port) -> Callable[..., AuditResult]:
    """``audit(target, **options)``: run the whole audit with the tap between backend and mock LLM."""

    def run(target: Target, **options) -> AuditResult:
        settings = AuditOptions(**{"max_seconds": 45.0, "stall_s": 1.0, **options})
        return asyncio.run(run_audit(target, settings, tap_port=tap_port, tap_upstream=audit_llm.base_url))

    return run


def by_check(result: AuditResult) -> dict[str, list]:
    found: dict[str, list] = {}
    for finding in result.findings:
        found.setdefault(finding.check, []).append(finding)
    return found


def problem_refs(result: AuditResult) -> set[str]:
    return {finding.spec_ref for finding in result.problems}
