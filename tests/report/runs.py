"""Synthetic runs for report tests: raw samples drawn from known distributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chatopt.report.files import write_run
from chatopt.report.result import GeneratorHealth, LoadInfo, RunResult, ScenarioInfo, TargetInfo, build_result
from chatopt.report.samples import Sample


def synthetic_samples(
    n: int = 800, *, ttft_median_ms: float = 200.0, scale: float = 1.0, seed: int = 0, failed: int = 0
) -> list[Sample]:
    """Lognormal TTFTs (times ``scale``), 20 chunks each, over ``n / 50`` seconds."""
    rng = np.random.default_rng(seed)
    samples = []
    for index in range(n):
        ttft = float(rng.lognormal(np.log(ttft_median_ms), 0.25)) * scale
        gaps = rng.exponential(10.0, 19) * scale
        ok = index >= failed
        samples.append(
            Sample(
                t_s=index / 50,
                ttft_ms=ttft if ok else None,
                e2e_ms=ttft + float(gaps.sum()),
                tpot_ms=float(gaps.sum()) / 19 if ok else None,
                itl_ms=" ".join(f"{gap:.3f}" for gap in gaps) if ok else "",
                chunks=20 if ok else 0,
                output_tokens=20 if ok else 0,
                tokens_source="usage" if ok else "none",
                prompt_tokens=40 if ok else None,
                status=200 if ok else 503,
                ok=ok,
                error_kind="" if ok else "http",
                error="" if ok else "HTTP 503",
                schedule_lag_ms=0.5,
                users=10,
                conversation="c",
                turn=0,
                cache="",
                route="",
                worker="local",
            )
        )
    return samples


def synthetic_run(
    directory: Path,
    samples: list[Sample],
    *,
    scenario: str = "faq",
    invalid_reasons: tuple[str, ...] = (),
    plots: bool = False,
) -> RunResult:
    """Aggregate samples like a bench run would and write result.json + samples.csv."""
    result = build_result(
        samples,
        target=TargetInfo(name="openai", url="http://h/v1/chat/completions", mode="sse", model="m"),
        scenario=ScenarioInfo(name=scenario),
        load=LoadInfo(mode="closed", users=10, spawn_rate=5, duration_s=30),
        duration_s=30,
        generator=GeneratorHealth(cpu_percent_mean=20, cpu_percent_max=30),
        invalid_reasons=invalid_reasons,
    )
    write_run(directory, result, samples, plots=plots)
    return result
