"""Run the demo: mock LLM, the reference server before and after, audits, benches, ladder.

Every measurement is taken by chatopt's own commands run as child processes
(``chatopt audit``, ``chatopt bench``, ``chatopt stress``), exactly as a user would run
them, and read back from their JSON files. The upstream calls of every bench run are
recorded by ``chatopt tap`` between the server and the mock, which gives exact tokens
and dollars per request for each configuration.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from chatopt.audit.findings import AuditResult
from chatopt.demo.accounting import usage_of
from chatopt.demo.headlines import headlines
from chatopt.demo.plan import MIGRATION_LADDER, DemoPlan, ScenarioLoad
from chatopt.demo.processes import ProcessGroup, ServerProcess, free_port
from chatopt.demo.result import ConfigurationRun, DemoResult, ScenarioOutcome, SoakOutcome, StressOutcome
from chatopt.errors import ChatoptError
from chatopt.report.result import RunResult
from chatopt.tap.calls import read_trace
from reference_server.auth import issue_token
from reference_server.settings import SWITCHES

#: All demo traffic comes from one IP, and the load generator's one premium identity
#: stands in for thousands of users, so those two hourly limits are raised. The free
#: tier keeps SPEC's 100 messages/hour: the audit runs as a free user and meets it.
LOAD_LIMIT_OVERRIDES = ("rate_ip_per_hour=100000000", "rate_premium_per_hour=100000000")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    """Where results go and which services the optimized server may use."""

    out_dir: Path
    redis_url: str | None = None
    database_url: str | None = None
    mock_config: Path | None = None


def run_demo(plan: DemoPlan, options: DemoOptions, step: Progress) -> DemoResult:
    """Run every step of ``plan``; ``step(description)`` is called as each one starts."""
    started = time.monotonic()
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    with ProcessGroup(out / "logs") as group:
        demo = _Demo(plan, options, group, step)
        step("starting the mock LLM")
        demo.start_mock()
        before = demo.measure_profile("baseline")
        after = demo.measure_profile("optimized")
        ladder = demo.measure_ladder() if plan.ladder_scenario else []
    result = DemoResult(
        mode=plan.mode,
        machine=f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}",
        before=before,
        after=after,
        ladder=ladder,
        headlines=headlines(before, after),
        duration_s=time.monotonic() - started,
    )
    (out / "demo.json").write_text(result.to_json(), encoding="utf-8")
    return result


def steps_in(plan: DemoPlan) -> int:
    """How many ``step`` calls :func:`run_demo` makes (for a progress bar's total)."""
    per_profile = 2 + len(plan.scenarios) + (1 if plan.stress_users else 0)
    ladder = len(MIGRATION_LADDER) if plan.ladder_scenario else 0
    spec_tests = (1 if plan.big_load_users else 0) + (1 if plan.soak_s else 0)
    return 1 + 2 * per_profile + ladder + spec_tests


class _Demo:
    def __init__(self, plan: DemoPlan, options: DemoOptions, group: ProcessGroup, step: Progress) -> None:
        self.plan = plan
        self.options = options
        self.group = group
        self.step = step
        self.secret = secrets.token_urlsafe(24)
        self.audit_auth = f"Authorization: Bearer {issue_token(self.secret, 'audit-user', 'free')}"
        self.load_auth = f"Authorization: Bearer {issue_token(self.secret, 'load-user', 'premium')}"
        self.mock: ServerProcess | None = None

    @property
    def mock_v1(self) -> str:
        assert self.mock is not None
        return f"{self.mock.base_url}/v1"

    def start_mock(self) -> None:
        port = free_port()
        args = ["mock-llm", "--host", "127.0.0.1", "--port", str(port)]
        if self.options.mock_config is not None:
            args += ["--config", str(self.options.mock_config)]
        self.mock = self.group.start("mock-llm", args, port=port, ready_path="/v1/models")

    # --- one configuration -------------------------------------------------------------

    def measure_profile(self, profile: str) -> ConfigurationRun:
        """Audit, then bench every scenario, then (optionally) stress one profile."""
        label = profile
        directory = self.options.out_dir / profile
        run = ConfigurationRun(label=label, switches={name: profile == "optimized" for name in SWITCHES})
        llm_port = free_port()
        self.step(f"{label}: starting the reference server")
        server = self._start_server(profile, list(LOAD_LIMIT_OVERRIDES), llm_port, directory)
        self.step(f"{label}: auditing (chatopt audit)")
        audit = self._audit(server, llm_port, directory / "audit")
        run.audit_dir = str((directory / "audit").relative_to(self.options.out_dir))
        run.audit_problems = sorted({finding.spec_ref for finding in audit.problems})
        tap, trace = self._start_tap(llm_port, directory / "upstream-trace.jsonl")
        for load in self.plan.scenarios:
            self.step(f"{label}: bench {load.scenario} ({load.users} users, {load.duration_s:.0f}s)")
            run.scenarios.append(self._bench(server, load, directory / f"bench-{load.scenario}", trace))
        if self.plan.stress_users:
            self.step(f"{label}: stress to the breaking point (chatopt stress)")
            run.stress = self._stress(server, directory / "stress")
        if profile == "optimized" and self.plan.big_load_users:
            users, seconds = self.plan.big_load_users, self.plan.big_load_s
            self.step(f"{label}: load test with {users:,} concurrent users ({seconds:.0f}s)")
            big = ScenarioLoad("mixed", users, seconds, f"{users:,} concurrent users")
            run.big_load = self._bench(server, big, directory / "load-1000-users", trace)
        if profile == "optimized" and self.plan.soak_s:
            self.step(f"{label}: soak for {self.plan.soak_s:.0f}s watching the server's memory")
            run.soak = self._soak(server, directory / "soak")
        self.group.stop(server)
        self.group.stop(tap)
        return run

    def measure_ladder(self) -> list[ConfigurationRun]:
        """Bench each cumulative step of the migration plan, in SPEC's order."""
        assert self.plan.ladder_scenario is not None
        load = self.plan.ladder_scenario
        switched_on: list[str] = []
        runs = []
        for index, rung in enumerate(MIGRATION_LADDER, start=1):
            switched_on.extend(rung.adds)
            self.step(f"migration ladder: {rung.name}")
            directory = self.options.out_dir / "ladder" / f"step-{index}"
            overrides = [f"{name}=true" for name in switched_on] + list(LOAD_LIMIT_OVERRIDES)
            llm_port = free_port()
            tap, trace = self._start_tap(llm_port, directory / "upstream-trace.jsonl")
            server = self._start_server("baseline", overrides, llm_port, directory)
            run = ConfigurationRun(label=rung.name, switches={name: name in switched_on for name in SWITCHES})
            run.scenarios.append(self._bench(server, load, directory / f"bench-{load.scenario}", trace))
            self.group.stop(server)
            self.group.stop(tap)
            runs.append(run)
        return runs

    # --- processes -----------------------------------------------------------------------

    def _start_server(
        self, profile: str, overrides: Sequence[str], llm_port: int, directory: Path
    ) -> ServerProcess:
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        database_url = f"sqlite+aiosqlite:///{(directory / 'history.db').resolve()}"
        args = [
            "serve",
            "--profile",
            profile,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--llm-base-url",
            f"http://127.0.0.1:{llm_port}/v1",
            "--log-level",
            "warning",
        ]
        if profile == "optimized" or overrides:
            if self.options.redis_url:
                args += ["--redis-url", self.options.redis_url]
            database_url = self.options.database_url or database_url
        args += ["--database-url", database_url]
        for override in overrides:
            args += ["--set", override]
        name = f"server-{directory.name}"
        return self.group.start(
            name, args, port=port, ready_path="/healthz", env={"CHATOPT_SECRET": self.secret}
        )

    def _start_tap(self, port: int, trace: Path) -> tuple[ServerProcess, Path]:
        trace.parent.mkdir(parents=True, exist_ok=True)
        tap = self.group.start(
            f"tap-{trace.parent.name}",
            ["tap", "--upstream", self.mock_v1, "--port", str(port), "--trace", str(trace)],
            port=port,
            ready_path="/v1/models",
        )
        return tap, trace

    def _run(self, args: list[str], log: Path, timeout: float) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as handle:
            try:
                completed = subprocess.run(
                    [sys.executable, "-m", "chatopt", *args],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=timeout,
                    env={**os.environ, "COLUMNS": "120"},
                )
            except subprocess.TimeoutExpired as exc:
                raise ChatoptError(
                    f"chatopt {args[0]} did not finish in {timeout:.0f}s", hint=f"see {log}"
                ) from exc
        if completed.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise ChatoptError(
                f"chatopt {args[0]} failed (exit {completed.returncode}):\n{tail}", hint=f"see {log}"
            )

    # --- measurements --------------------------------------------------------------------

    def _audit(self, server: ServerProcess, llm_port: int, out: Path) -> AuditResult:
        args = [
            "audit",
            server.base_url,
            "--target",
            "reference",
            "-H",
            self.audit_auth,
            "--tap-port",
            str(llm_port),
            "--tap-upstream",
            self.mock_v1,
            "--pid",
            str(server.pid),
            "--out",
            str(out),
            "--max-seconds",
            str(self.plan.audit_seconds),
            "--max-requests",
            str(self.plan.audit_max_requests),
        ]
        self._run(args, out.parent / "audit.log", timeout=self.plan.audit_seconds * 3 + 120)
        return AuditResult.model_validate_json((out / "audit.json").read_text(encoding="utf-8"))

    def _bench(self, server: ServerProcess, load: ScenarioLoad, out: Path, trace: Path) -> ScenarioOutcome:
        calls_before = len(read_trace(trace)) if trace.exists() else 0
        args = [
            *self._load_command("bench", server, load.scenario),
            "--users",
            str(load.users),
            "--spawn-rate",
            str(max(load.users, 1)),
            "--duration",
            f"{load.duration_s:g}s",
            "--out",
            str(out),
        ]
        self._run(args, out.parent / f"{out.name}.log", timeout=load.duration_s * 4 + 120)
        time.sleep(0.5)  # let background work the run caused (summaries) reach the tap's trace
        calls = read_trace(trace)[calls_before:] if trace.exists() else []
        result = RunResult.model_validate_json((out / "result.json").read_text(encoding="utf-8"))
        samples = pd.read_csv(out / (result.samples_file or "samples.csv"))
        conversations = int((samples["turn"] == 0).sum()) if "turn" in samples else 0
        ttft = result.metrics.get("ttft_ms")
        e2e = result.metrics.get("e2e_ms")
        hits = sum(count for value, count in result.cache.items() if value.lower().startswith("hit"))
        misses = samples[~samples["cache"].astype("string").fillna("").str.lower().str.startswith("hit")]
        miss_ttft = misses["ttft_ms"].dropna()
        answered = samples[samples["ok"].astype(bool)].dropna(subset=["prompt_tokens"])
        by_turn = answered.groupby("turn")["prompt_tokens"].mean()
        return ScenarioOutcome(
            scenario=load.scenario,
            purpose=load.purpose,
            result_dir=str(out.relative_to(self.options.out_dir)),
            valid=result.valid,
            requests=result.requests.total,
            failed=result.requests.failed,
            conversations=conversations,
            ttft_p50_ms=ttft.p50 if ttft else None,
            ttft_p95_ms=ttft.p95 if ttft else None,
            ttft_p50_miss_ms=float(miss_ttft.median()) if len(miss_ttft) else None,
            e2e_p50_ms=e2e.p50 if e2e else None,
            cache_hits=hits,
            usage=usage_of(calls, result.requests.ok),
            prompt_tokens_by_turn={int(turn): float(mean) for turn, mean in by_turn.items()},
        )

    def _stress(self, server: ServerProcess, out: Path) -> StressOutcome:
        assert self.plan.stress_users is not None
        start, step, most = self.plan.stress_users
        slo = "p95_ttft<=1s,error_rate<=1%"
        args = [
            *self._load_command("stress", server, "mixed"),
            "--slo",
            slo,
            "--start-users",
            str(start),
            "--step-users",
            str(step),
            "--max-users",
            str(most),
            "--step-duration",
            f"{self.plan.stress_step_s:g}s",
            "--out",
            str(out),
        ]
        steps = (most - start) // step + 1
        self._run(args, out.parent / "stress.log", timeout=steps * (self.plan.stress_step_s * 3 + 30) + 120)
        data = json.loads((out / "result.json").read_text(encoding="utf-8"))
        stress = data.get("extra", {}).get("stress", {})
        highest = stress.get("highest_passing_load")
        return StressOutcome(
            slo=slo,
            max_users_meeting_slo=int(highest) if highest is not None else 0,
            curve=[
                {key: row.get(key) for key in ("load", "requests_per_s", "p95_ttft_ms", "error_rate")}
                for row in stress.get("steps", [])
            ],
            result_dir=str(out.relative_to(self.options.out_dir)),
        )

    def _load_command(self, command: str, server: ServerProcess, scenario: str) -> list[str]:
        """The start of a load command against ``server`` as the load generator's identity."""
        return [
            command,
            server.base_url,
            "--target",
            "reference",
            "-H",
            self.load_auth,
            "--scenario",
            scenario,
        ]

    def _soak(self, server: ServerProcess, out: Path) -> SoakOutcome:
        seconds = self.plan.soak_s
        args = [
            *self._load_command("soak", server, "soak"),
            "--duration",
            f"{seconds:g}s",
            "--pid",
            str(server.pid),
            "--out",
            str(out),
        ]
        self._run(args, out.parent / "soak.log", timeout=seconds * 1.5 + 300)
        result = RunResult.model_validate_json((out / "result.json").read_text(encoding="utf-8"))
        soak = result.extra.get("soak", {})
        rss = soak.get("trends", {}).get(f"rss_mb:{server.pid}", {})
        return SoakOutcome(
            duration_s=result.duration_s,
            requests=result.requests.total,
            verdict=soak.get("verdict", "no verdict"),
            rss_slope_per_1000_requests=rss.get("slope_per_1000_requests"),
            result_dir=str(out.relative_to(self.options.out_dir)),
        )
