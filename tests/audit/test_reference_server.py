"""Done-when: the audit finds the baseline's seven bottlenecks and none of them in the optimized profile.

The reference server runs as its own process (so py-spy can watch its event loop through
``--pid``) on a fresh PostgreSQL database, with the tap between it and the mock LLM.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chatopt.targets import BUILTIN_TARGETS, Target
from reference_server.auth import issue_token
from reference_server.settings import settings_for_profile
from tests.audit.conftest import by_check, problem_refs
from tests.services import free_port, wait_for_port

pytestmark = [pytest.mark.slow, pytest.mark.services]

#: What the baseline does wrong, by SPEC reference: no streaming, no cache, one large model, full
#: history, blocking event loop, no rate limit, no input limit.
BASELINE_PROBLEMS = {"P1", "P2", "P3", "P4", "P5", "rate-limit", "validation"}
SECRET = "audit-test-secret"


@contextmanager
def reference_server(profile: str, tap_port: int, database_url: str) -> Iterator[tuple[Target, int]]:
    """``chatopt``'s reference server in a subprocess; yields the audit target and the server's PID."""
    settings = settings_for_profile(
        profile, llm_base_url=f"http://127.0.0.1:{tap_port}/v1", database_url=database_url, secret=SECRET
    )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "reference_server.app:app_from_environment",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={**os.environ, "CHATOPT_SERVER_SETTINGS": settings.model_dump_json()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        token = issue_token(SECRET, "audit-user", tier="free")
        target = BUILTIN_TARGETS["reference"].with_overrides(
            url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        )
        yield target, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_baseline_profile_shows_every_bottleneck(audit, tap_port, postgres_url) -> None:
    with reference_server("baseline", tap_port, postgres_url) as (target, pid):
        result = audit(target, pid=pid)
    checks = by_check(result)
    assert problem_refs(result) >= BASELINE_PROBLEMS, [
        (f.check, f.status, f.evidence) for f in result.findings
    ]
    assert checks["streaming.present"][0].evidence["median_chunks"] == 1
    assert checks["context.growth"][0].evidence["full_history_on_turns"] == [5, 6, 7]
    assert checks["cache.repeat"][0].evidence["ai_calls_repeat"] >= 1
    assert set(checks["model.routing"][0].evidence["tiers"].values()) == {"large"}
    loop = checks["loop.blocking"][0]
    assert loop.status == "problem" and any(
        "sqlalchemy/engine" in call for call, _ in loop.evidence["sync_io_calls"]
    )
    assert checks["ratelimit.burst"][0].evidence["status_counts"].get("429") is None
    assert checks["input.limits"][0].evidence["probes"]["long_message"]["verdict"] == "accepted"
    assert checks["transport.fingerprint"][0].evidence["websocket_offered"] is False


def test_optimized_profile_shows_none_of_them(audit, tap_port, postgres_url) -> None:
    with reference_server("optimized", tap_port, postgres_url) as (target, pid):
        result = audit(target, pid=pid)
    checks = by_check(result)
    assert BASELINE_PROBLEMS.isdisjoint(problem_refs(result)), [
        (f.check, f.evidence) for f in result.problems
    ]
    assert checks["loop.blocking"][0].status == "ok"
    assert checks["ratelimit.burst"][0].evidence["retry_after"] is not None
    assert checks["transport.fingerprint"][0].evidence["websocket_offered"] is True
    assert "(WebSocket offered)" in result.diagnosis
