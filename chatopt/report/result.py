"""The one result model of every run (bench, stress step, soak), saved as ``result.json``.

The schema is versioned (``schema: chatopt.result/1``) and documented in
docs/RESULT_SCHEMA.md; compare, gate and the renderers read only this model and the
raw samples file it names.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from chatopt import __version__
from chatopt.errors import ChatoptError
from chatopt.report.samples import Sample, read_samples
from chatopt.report.stats import summarize

SCHEMA = "chatopt.result/1"
METRIC_NAMES = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")


class MetricSummary(BaseModel):
    """Distribution of one metric in milliseconds, from raw samples."""

    count: int = 0
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    mean: float | None = None
    min: float | None = None
    max: float | None = None


class TargetInfo(BaseModel):
    name: str
    url: str
    mode: str
    model: str | None = None


class ScenarioInfo(BaseModel):
    name: str
    source: str = ""


class LoadInfo(BaseModel):
    """The load that was asked for."""

    mode: Literal["closed", "open"]
    users: int | None = None
    spawn_rate: float | None = None
    rate: float | None = None
    poisson: bool = False
    duration_s: float
    stages: list[dict[str, float]] = Field(default_factory=list)
    workers: int = 1


class Requests(BaseModel):
    total: int
    ok: int
    failed: int
    error_rate: float
    errors_by_kind: dict[str, int] = Field(default_factory=dict)


class Throughput(BaseModel):
    requests_per_s: float
    ok_requests_per_s: float
    output_tokens_per_s: float


class Tokens(BaseModel):
    output_total: int
    source: str = Field(description="usage (server-reported), tiktoken (counted), mixed or none")


class GeneratorHealth(BaseModel):
    """The load generator's own health: when it was the bottleneck the run is invalid."""

    cpu_percent_mean: float = 0.0
    cpu_percent_max: float = 0.0
    schedule_lag_ms: MetricSummary = Field(default_factory=MetricSummary)
    dropped_arrivals: int = 0
    late_arrivals: int = 0
    processes: int = 1


class RunResult(BaseModel):
    """Everything one run measured; ``samples_file`` holds the raw rows."""

    schema_: str = Field(SCHEMA, alias="schema")
    kind: Literal["bench", "stress", "soak", "stress-step"] = "bench"
    tool_version: str = __version__
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    target: TargetInfo
    scenario: ScenarioInfo
    load: LoadInfo
    valid: bool = True
    invalid_reasons: list[str] = Field(default_factory=list)
    interrupted: bool = False
    duration_s: float
    requests: Requests
    metrics: dict[str, MetricSummary]
    throughput: Throughput
    tokens: Tokens
    generator: GeneratorHealth = Field(default_factory=GeneratorHealth)
    cache: dict[str, int] = Field(default_factory=dict, description="requests per cache header value")
    routes: dict[str, int] = Field(default_factory=dict, description="requests per route/model header value")
    timeline: list[dict[str, float | None]] = Field(
        default_factory=list, description="per-second rps, p95 ttft, errors"
    )
    samples_file: str | None = "samples.csv"
    extra: dict[str, Any] = Field(default_factory=dict, description="stress curve, soak verdict, ...")

    model_config = {"populate_by_name": True}

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "result.json"
        path.write_text(
            json.dumps(self.model_dump(mode="json", by_alias=True), indent=2) + "\n", encoding="utf-8"
        )
        return path


def metric_values(samples: Sequence[Sample], metric: str) -> list[float]:
    """All raw values of one metric over successful requests (ITL pools every gap)."""
    ok = [sample for sample in samples if sample.ok]
    if metric == "itl_ms":
        return [gap for sample in ok for gap in sample.itl_values]
    values = (getattr(sample, metric) for sample in ok)
    return [float(value) for value in values if value is not None]


def _timeline(samples: Sequence[Sample], duration_s: float) -> list[dict[str, float | None]]:
    buckets: dict[int, list[Sample]] = {}
    for sample in samples:
        buckets.setdefault(int(sample.t_s), []).append(sample)
    rows = []
    for second in range(int(duration_s) + 1):
        bucket = buckets.get(second, [])
        ttft = summarize([s.ttft_ms for s in bucket if s.ok and s.ttft_ms is not None])
        rows.append(
            {
                "t_s": float(second),
                "requests": float(len(bucket)),
                "errors": float(sum(1 for s in bucket if not s.ok)),
                "p95_ttft_ms": ttft.p95,
                "users": float(max((s.users for s in bucket), default=0)),
            }
        )
    return rows


def build_result(
    samples: Sequence[Sample],
    *,
    target: TargetInfo,
    scenario: ScenarioInfo,
    load: LoadInfo,
    duration_s: float,
    generator: GeneratorHealth,
    invalid_reasons: Sequence[str] = (),
    interrupted: bool = False,
    kind: str = "bench",
) -> RunResult:
    """Aggregate raw samples into a :class:`RunResult`."""
    total = len(samples)
    failed = sum(1 for sample in samples if not sample.ok)
    ok_samples = [sample for sample in samples if sample.ok]
    output_tokens = sum(sample.output_tokens for sample in ok_samples)
    sources = {sample.tokens_source for sample in ok_samples if sample.tokens_source != "none"}
    source = sources.pop() if len(sources) == 1 else ("mixed" if sources else "none")
    reasons = list(invalid_reasons)
    if total == 0:
        reasons.append("no request completed")
    elapsed = max(duration_s, 1e-9)
    return RunResult(
        kind=kind,
        target=target,
        scenario=scenario,
        load=load,
        valid=not reasons,
        invalid_reasons=reasons,
        interrupted=interrupted,
        duration_s=duration_s,
        requests=Requests(
            total=total,
            ok=total - failed,
            failed=failed,
            error_rate=failed / total if total else 0.0,
            errors_by_kind=dict(Counter(sample.error_kind for sample in samples if not sample.ok)),
        ),
        metrics={
            name: MetricSummary(**summarize(metric_values(samples, name)).as_dict()) for name in METRIC_NAMES
        },
        throughput=Throughput(
            requests_per_s=total / elapsed,
            ok_requests_per_s=len(ok_samples) / elapsed,
            output_tokens_per_s=output_tokens / elapsed,
        ),
        tokens=Tokens(output_total=output_tokens, source=source),
        generator=generator,
        cache=dict(Counter(sample.cache for sample in samples if sample.cache)),
        routes=dict(Counter(sample.route for sample in samples if sample.route)),
        timeline=_timeline(samples, duration_s),
    )


def load_result(path: Path) -> RunResult:
    """Read a ``result.json`` (or a directory holding one); a clear error when it is not one."""
    if path.is_dir():
        path = path / "result.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ChatoptError(f"{path} does not exist", hint="pass the result.json a bench run wrote") from exc
    except (OSError, ValueError) as exc:
        raise ChatoptError(f"{path} is not a readable JSON file: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ChatoptError(f"{path} is not a chatopt result (schema {found!r}, expected {SCHEMA!r})")
    try:
        return RunResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ChatoptError(f"{path}: field {where!r}: {first['msg']}") from exc


def load_samples(result: RunResult, result_path: Path) -> list[Sample] | None:
    """The raw samples a result names, or None when the file is missing."""
    if not result.samples_file:
        return None
    directory = result_path if result_path.is_dir() else result_path.parent
    path = directory / result.samples_file
    if not path.is_file():
        return None
    try:
        return read_samples(path)
    except (OSError, ValueError) as exc:
        raise ChatoptError(f"cannot read raw samples {path}: {exc}") from exc
