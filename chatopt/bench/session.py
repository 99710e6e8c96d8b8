"""One load-test session from the command line's words to a :class:`RunResult`.

:func:`prepare` resolves the target, scenario and load plan and sends one pre-flight
message (asyncio, before gevent patches anything), so a wrong URL, a TLS problem or a
profile that does not match the answers fails in a second with what to fix.
:func:`execute` runs the load (importing the gevent runner only then) and aggregates it.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chatopt.bench.collector import LiveStats
from chatopt.bench.load import LoadPlan, Stage, parse_duration
from chatopt.bench.scenario import Scenario, load_scenario
from chatopt.errors import ChatoptError
from chatopt.report.result import GeneratorHealth, LoadInfo, RunResult, ScenarioInfo, TargetInfo, build_result
from chatopt.report.samples import Sample
from chatopt.targets import ChatExchange, Target, check_target, load_target, parse_header


@dataclass
class Prepared:
    """A checked target, its scenario and the pre-flight exchange."""

    target: Target
    scenario: Scenario
    preflight: ChatExchange | None


def parse_stages(text: str, mode: str) -> list[Stage]:
    """``"30s:10,1m:50"`` (duration:users, or duration:rate in open loop) as stages."""
    stages = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        duration, sep, amount = part.partition(":")
        if not sep:
            raise ChatoptError(
                f"bad stage {part!r}", hint="write stages as DURATION:AMOUNT, e.g. 30s:10,1m:50"
            )
        try:
            value = float(amount)
        except ValueError as exc:
            raise ChatoptError(f"bad stage amount {amount!r} in {part!r}", hint="use a number") from exc
        key = "rate" if mode == "open" else "users"
        stages.append(
            Stage(duration_s=parse_duration(duration), **{key: value if key == "rate" else int(value)})
        )
    return stages


def build_plan(
    *,
    users: int | None,
    spawn_rate: float | None,
    rate: float | None,
    poisson: bool,
    duration: str,
    stages: str | None,
    max_inflight: int,
    workers: int,
    scenario: Scenario,
) -> LoadPlan:
    """The load plan from command-line options, falling back to the scenario's defaults."""
    defaults = scenario.load
    if users is not None and rate is not None:
        raise ChatoptError("give --users (closed loop) or --rate (open loop), not both")
    rate = rate if rate is not None else (defaults.get("rate") if users is None else None)
    mode = "open" if rate is not None else "closed"
    try:
        return LoadPlan(
            mode=mode,
            users=users or int(defaults.get("users", 10)),
            spawn_rate=spawn_rate or float(defaults.get("spawn_rate", 10)),
            rate=float(rate or 1.0),
            poisson=poisson or bool(defaults.get("poisson", False)),
            duration_s=parse_duration(duration or defaults.get("duration", "60s")),
            stages=parse_stages(stages, mode) if stages else [],
            max_inflight=max_inflight,
            workers=workers,
        )
    except ValueError as exc:
        raise ChatoptError(f"invalid load: {exc}") from exc


def prepare(
    url: str,
    *,
    target_spec: str | None,
    model: str | None,
    headers: Sequence[str],
    scenario_spec: str,
    timeout_s: float | None = None,
    insecure: bool = False,
    preflight: bool = True,
) -> Prepared:
    """Load target and scenario, then send one real message to prove the profile fits."""
    scenario = load_scenario(scenario_spec)
    parsed_headers = dict(parse_header(line) for line in headers)
    target = load_target(
        target_spec or scenario.target or "openai", url=url, model=model, headers=parsed_headers
    )
    update: dict[str, object] = {}
    if timeout_s is not None:
        update["timeout_s"] = timeout_s
    if insecure:
        update["verify_tls"] = False
    target = target.model_copy(update=update)
    exchange = None
    if preflight:
        first_message = scenario.conversations[0].turns[0]
        message = first_message if isinstance(first_message, str) else first_message[0]
        exchange = asyncio.run(check_target(target, message))
    return Prepared(target, scenario, exchange)


def execute(
    prepared: Prepared,
    plan: LoadPlan,
    *,
    on_progress: Callable[[LiveStats], None] | None = None,
    on_tick: Callable[[list[Sample], float], None] | None = None,
    expect_workers: int = 0,
    master_bind_host: str = "127.0.0.1",
    master_bind_port: int | None = None,
    seed: int = 1,
    kind: str = "bench",
) -> tuple[RunResult, list[Sample]]:
    """Run the load and aggregate every sample into a result (valid or not, with reasons)."""
    # The pre-flight already imported ssl for asyncio; gevent's warning about patching it late is expected.
    warnings.filterwarnings("ignore", message="Monkey-patching ssl after ssl has already been imported")
    try:
        from chatopt.bench.runner import run_load
        from chatopt.bench.users import RunSpec
    except KeyboardInterrupt:
        raise ChatoptError("interrupted before the load started: nothing measured", exit_code=130) from None

    spec = RunSpec(target=prepared.target, scenario=prepared.scenario, load=plan, seed=seed)
    outcome = run_load(
        spec,
        on_progress=on_progress,
        on_tick=on_tick,
        expect_workers=expect_workers,
        master_bind_host=master_bind_host,
        master_bind_port=master_bind_port,
    )
    reasons = list(outcome.check.reasons)
    if outcome.interrupted:
        reasons.append("interrupted before the planned duration (Ctrl-C)")
    result = summarize_run(
        prepared,
        plan,
        outcome.samples,
        duration_s=outcome.duration_s,
        generator=outcome.check.health,
        invalid_reasons=reasons,
        interrupted=outcome.interrupted,
        processes=outcome.processes,
        kind=kind,
    )
    return result, outcome.samples


def summarize_run(
    prepared: Prepared,
    plan: LoadPlan,
    samples: Sequence[Sample],
    *,
    duration_s: float,
    generator: GeneratorHealth,
    invalid_reasons: Sequence[str] = (),
    interrupted: bool = False,
    processes: int = 1,
    kind: str = "bench",
) -> RunResult:
    """Aggregate samples of (part of) a run into the result model."""
    return build_result(
        samples,
        target=TargetInfo(
            name=prepared.target.name,
            url=prepared.target.url,
            mode=(prepared.preflight.mode if prepared.preflight else prepared.target.mode),
            model=prepared.target.model,
        ),
        scenario=ScenarioInfo(name=prepared.scenario.name, source=prepared.scenario.source),
        load=LoadInfo(
            mode=plan.mode,
            users=plan.peak_users() if plan.mode == "closed" else None,
            spawn_rate=plan.spawn_rate if plan.mode == "closed" else None,
            rate=plan.rate if plan.mode == "open" else None,
            poisson=plan.poisson,
            duration_s=plan.duration_s,
            stages=[stage.model_dump(exclude_none=True) for stage in plan.stages],
            workers=processes,
        ),
        duration_s=duration_s,
        generator=generator,
        invalid_reasons=invalid_reasons,
        interrupted=interrupted,
        kind=kind,
    )
