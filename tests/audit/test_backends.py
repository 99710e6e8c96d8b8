"""The audit against three small backends written in other styles than the reference server."""

from __future__ import annotations

import pytest

from chatopt.targets import BUILTIN_TARGETS
from tests.audit.backends import (
    JSON_HISTORY_TARGET,
    NDJSON_TARGET,
    json_history_app,
    ndjson_app,
    passthrough_app,
)
from tests.audit.conftest import by_check, problem_refs
from tests.tap.helpers import serve

pytestmark = pytest.mark.slow


def test_naive_json_backend_with_server_side_history(audit, tap_port) -> None:
    with serve(json_history_app(f"http://127.0.0.1:{tap_port}/v1")) as url:
        result = audit(JSON_HISTORY_TARGET.with_overrides(url=url))
    checks = by_check(result)
    assert {"P1", "P2", "P3", "P4", "P5", "rate-limit", "validation", "errors"} <= problem_refs(result)
    streaming = checks["streaming.present"][0]
    assert streaming.evidence["modes"] == ["json"] and streaming.impact.ms_per_request > 0
    context = checks["context.growth"][0]
    tokens = context.evidence["prompt_tokens_per_turn"]
    assert tokens == sorted(tokens) and tokens[-1] > 2 * tokens[0]
    assert checks["model.routing"][0].evidence["tiers"] == {"gpt-4": "large"}
    assert checks["cache.repeat"][0].evidence["ai_calls_repeat"] == 1
    assert result.context_growth and result.waterfall and result.waterfall.calls


def test_openai_compatible_passthrough(audit, tap_port) -> None:
    with serve(passthrough_app(f"http://127.0.0.1:{tap_port}/v1")) as url:
        target = BUILTIN_TARGETS["openai"].with_overrides(url=url, model="gpt-4o")
        result = audit(target, skip=frozenset({"ratelimit.burst", "input.limits"}))
    checks = by_check(result)
    assert checks["streaming.present"][0].status == "ok"
    assert checks["streaming.present"][0].evidence["modes"] == ["sse"]
    assert checks["streaming.present"][0].evidence["upstream_stream_share"] == 1.0
    context = checks["context.growth"][0]
    assert context.status == "problem" and context.evidence["full_history_on_turns"] == [5, 6, 7]
    assert checks["model.routing"][0].status == "problem"  # gpt-4o for everything: one medium model
    assert checks["concurrency.scaling"][0].status == "ok"
    assert {"P1", "P5"}.isdisjoint(problem_refs(result))
    assert {f.check for f in result.findings if f.status == "skipped"} == {"ratelimit.burst", "input.limits"}


def test_ndjson_backend_that_windows_caches_and_limits(audit, tap_port) -> None:
    with serve(ndjson_app(f"http://127.0.0.1:{tap_port}/v1")) as url:
        result = audit(NDJSON_TARGET.with_overrides(url=url))
    checks = by_check(result)
    refs = problem_refs(result)
    assert {"P1", "P3", "P4", "P5", "rate-limit", "validation", "errors"}.isdisjoint(refs), result.problems
    assert checks["streaming.present"][0].evidence["modes"] == ["ndjson"]
    tokens = checks["context.growth"][0].evidence["prompt_tokens_per_turn"]
    assert max(tokens[4:]) < tokens[3] + 40  # the window stops the growth after 3 exchanges
    cache = checks["cache.repeat"][0]
    assert cache.title == "Exact-match cache only"
    assert (cache.evidence["ai_calls_repeat"], cache.evidence["ai_calls_paraphrase"]) == (0, 1)
    limits = checks["input.limits"][0].evidence["probes"]
    assert [limits[name]["status"] for name in ("long_message", "big_body", "malformed_json")] == [
        422,
        413,
        400,
    ]
    assert checks["errors.upstream"][0].evidence["failure_ok"] is True
    assert checks["ratelimit.burst"][0].evidence["ratelimit_headers"] == ["ratelimit-policy"]


def test_a_tap_the_backend_never_calls_is_reported_not_trusted(audit, audit_llm) -> None:
    with serve(json_history_app(audit_llm.base_url)) as url:  # talks to the LLM directly, not via the tap
        result = audit(
            JSON_HISTORY_TARGET.with_overrides(url=url),
            skip_intrusive=True,
            skip=frozenset({"concurrency.scaling"}),
        )
    checks = by_check(result)
    assert result.warnings and "OPENAI_BASE_URL" in result.warnings[0]
    for check in ("cache.repeat", "model.routing", "context.growth"):
        assert checks[check][0].status == "not_enough_data", checks[check]
