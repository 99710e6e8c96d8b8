"""SLO terms, stress step plans and the soak's leak verdict (synthetic series)."""

from __future__ import annotations

import numpy as np
import pytest

from chatopt.bench.leak import judge_leaks
from chatopt.bench.slo import broken_objectives, parse_slo
from chatopt.bench.soak import latency_series
from chatopt.bench.stress import StepPlan
from chatopt.errors import ChatoptError
from tests.report.runs import synthetic_run, synthetic_samples


def test_parse_slo_units() -> None:
    terms = parse_slo("p95_ttft<=1s, p99_e2e<3000ms,error_rate<=0.1%,rps>=50")
    assert [(t.metric, t.op, t.threshold) for t in terms] == [
        ("p95_ttft", "<=", 1000.0),
        ("p99_e2e", "<", 3000.0),
        ("error_rate", "<=", pytest.approx(0.001)),
        ("rps", ">=", 50.0),
    ]


@pytest.mark.parametrize("text", ["", "p95_ttft", "p42_ttft<=1s", "latency<=1s", "p95_ttft<=5%"])
def test_parse_slo_rejects_nonsense(text: str) -> None:
    with pytest.raises(ChatoptError):
        parse_slo(text)


def test_broken_objectives_name_the_measured_value(tmp_path) -> None:
    result = synthetic_run(tmp_path, synthetic_samples(n=400, ttft_median_ms=200, failed=8))
    assert broken_objectives(parse_slo("p95_ttft<=1s"), result) == []
    broken = broken_objectives(parse_slo("p50_ttft<=100ms,error_rate<=0.1%"), result)
    assert len(broken) == 2
    assert "measured" in broken[0] and "error_rate" in broken[1]


def test_step_plan_loads() -> None:
    assert StepPlan("closed", 10, 20, 70, 5).loads() == [10, 30, 50, 70]
    assert StepPlan("open", 0.5, 0.5, 1.6, 5).loads() == [0.5, 1.0, 1.5]


def _series(slope_mb_per_request: float, noise: float, seed: int = 0) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    return [(x, 150 + slope_mb_per_request * x + rng.normal(0, noise)) for x in range(0, 50_000, 500)]


def test_a_steady_climb_is_a_leak() -> None:
    verdict = judge_leaks(
        {"rss_mb:42": _series(0.004, 1.0), "fds:42": [(x, 12) for x in range(0, 50_000, 500)]}
    )
    assert verdict.verdict.startswith("leak: rss_mb:42")
    assert verdict.trends["rss_mb:42"].slope_per_1000_requests == pytest.approx(4, rel=0.1)
    assert not verdict.trends["fds:42"].leak


def test_flat_or_noisy_memory_is_not_a_leak() -> None:
    assert judge_leaks({"rss_mb:1": _series(0.0, 3.0)}).verdict.startswith("no leak")
    # warm-up growth (first 20%) then flat: skipped by the warm-up cut
    warm = [(x, 100 + min(x, 8000) * 0.01) for x in range(0, 50_000, 500)]
    assert judge_leaks({"rss_mb:1": warm}).verdict.startswith("no leak")


def test_leaking_file_descriptors_are_named() -> None:
    fds = [(x, 10 + x // 400) for x in range(0, 50_000, 500)]
    verdict = judge_leaks({"fds:7": fds})
    assert verdict.verdict.startswith("leak: fds:7")


def test_too_little_work_is_inconclusive() -> None:
    short = [(x, 100 + x * 0.01) for x in range(0, 600, 50)]
    assert judge_leaks({"rss_mb:1": short}).verdict.startswith("inconclusive")
    assert judge_leaks({}).verdict.startswith("inconclusive")


def test_latency_series_windows_p95_over_requests() -> None:
    samples = synthetic_samples(n=800)
    points = latency_series(samples, windows=8)
    assert len(points) == 8 and points[0][0] == 100
    assert all(100 < p95 < 600 for _, p95 in points)
