"""Baseline vs optimized reference server, side by side in one run on the mock LLM.

Every process is real: the mock LLM (`chatopt mock-llm`, DEFAULT tiers: the `large`
model is 800 ms + 0.2 ms per prompt token to the first token, then 40 tokens/s), and
two `chatopt serve` processes on their own SQLite files: `--profile baseline`, and
`--profile optimized` with the semantic cache and model routing switched OFF, so the
difference comes from streaming (P1), the context window (P4) and async I/O (P5)
alone. Both answer with the `large` model. The client runs in this process.

Phase 1, conversations: C conversations of the same 20-turn script per profile, both
profiles at the same time, with a think time (default 3 s) between a conversation's
turns. Per turn: TTFT (optimized: the first non-empty SSE `token` event; baseline: its
JSON answer, which is the first text the user sees), and the
prompt tokens of the chat call (usage reported by the upstream). The optimized
server's background summary calls are added from its `/api/debug/loop-lag` figures.

Phase 2, load: U concurrent users per profile (one profile at a time), each sending
turns back to back in conversations of 10 turns, for D seconds. The server's own
heartbeat gives its event-loop lag P50/P99/max over the phase; the client's lag is
shown too (a run where the client lagged is not trustworthy).

    .venv/bin/python benchmarks/server_profiles.py
    .venv/bin/python benchmarks/server_profiles.py --conversations 3 --users 60 --load-seconds 40
    .venv/bin/python benchmarks/server_profiles.py --postgres      # history in the local PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

import httpx

PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, PROJECT_ROOT)

from chatopt.mockllm.config import DEFAULT_TIERS  # noqa: E402
from reference_server.auth import issue_token  # noqa: E402
from reference_server.runtime.loop_lag import LoopLagMonitor, percentile  # noqa: E402
from tests.services import POSTGRES_ADMIN_DSN, free_port  # noqa: E402

# A 20-turn working conversation: short factual questions, "how/why" follow-ups and a
# few requests for analysis (the mock answers ~60 / ~180 / ~400 tokens to each kind).
SCRIPT = [
    "Hi! What does our support plan include?",
    "How do I add a new teammate to the workspace?",
    "Why does the invite email sometimes land in spam, and how can we avoid it?",
    "What is the maximum file size for uploads?",
    "How does the sync between the desktop app and the web app work?",
    "Can you compare the Team and Enterprise plans and analyze which fits a 40-person company?",
    "What happens to shared files when someone leaves the company?",
    "How can I export all our data?",
    "Why is the export slower for large workspaces, and how should we schedule it?",
    "Is there an API for creating projects?",
    "How do I authenticate against the API from a CI pipeline?",
    "What rate limits does the API have?",
    "How should we design retries for the API calls so a burst does not get us blocked?",
    "Does the API support webhooks?",
    "How do webhook signatures work and how do I verify them?",
    "Please analyze the trade-offs of polling versus webhooks for our integration, step by step.",
    "What time zone are the audit logs in?",
    "How long are audit logs kept, and how can we archive them?",
    "Can you summarize the setup steps we discussed for the API integration?",
    "Thanks! Who do I contact if something breaks at night?",
]


@dataclass
class TurnResult:
    ttft_s: float
    e2e_s: float
    prompt_tokens: int
    completion_tokens: int
    conversation_id: str
    turn_index: int = 0


@dataclass
class ProfileRun:
    name: str
    url: str
    turns: list[TurnResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Processes:
    """Child processes of the run, stopped together; each one logs to ``<logs>/<name>.log``."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self.children.append(
                subprocess.Popen([sys.executable, "-m", "chatopt", *args], env=env, stdout=log, stderr=log)
            )

    def stop(self) -> None:
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


async def wait_ready(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not come up")


async def chat_turn(
    client: httpx.AsyncClient, base: str, token: str, message: str, conversation_id: str | None
) -> TurnResult:
    body = {"message": message} | ({"conversation_id": conversation_id} if conversation_id else {})
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    started = time.perf_counter()
    ttft: float | None = None
    final: dict | None = None
    async with client.stream("POST", f"{base}/api/chat", json=body, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
        if response.headers["content-type"].startswith("text/event-stream"):
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if event == "token" and data["text"] and ttft is None:
                        ttft = time.perf_counter() - started
                    elif event == "final":
                        final = data
                    elif event == "error":
                        raise RuntimeError(f"error event: {data}")
        else:
            final = json.loads(await response.aread())
            ttft = time.perf_counter() - started
    if final is None or ttft is None:
        raise RuntimeError("the answer had no final event or no text")
    return TurnResult(
        ttft_s=ttft,
        e2e_s=time.perf_counter() - started,
        prompt_tokens=final["usage"]["prompt_tokens"],
        completion_tokens=final["usage"]["completion_tokens"],
        conversation_id=final["conversation_id"],
    )


async def conversation(
    client: httpx.AsyncClient, run: ProfileRun, token: str, turns: list[str], think_s: float
) -> None:
    conversation_id = None
    for index, message in enumerate(turns):
        if index:
            await asyncio.sleep(think_s)  # the user reads the answer before asking the next question
        try:
            result = await chat_turn(client, run.url, token, message, conversation_id)
        except Exception as exc:  # recorded and reported; the run goes on
            run.errors.append(str(exc))
            return
        conversation_id = result.conversation_id
        run.turns.append(replace(result, turn_index=index))


async def debug_figures(client: httpx.AsyncClient, base: str, reset: bool = False) -> dict:
    return (await client.get(f"{base}/api/debug/loop-lag", params={"reset": "1"} if reset else None)).json()


async def load_phase(
    client: httpx.AsyncClient, run: ProfileRun, secret: str, users: int, seconds: float
) -> tuple[dict, int]:
    stop_at = time.monotonic() + seconds
    done = 0

    async def user(index: int) -> None:
        nonlocal done
        token = issue_token(secret, f"load-{run.name}-{index}", "premium")
        turn = 0
        conversation_id = None
        await asyncio.sleep(index * 0.05)  # ramp: users start 50 ms apart
        while time.monotonic() < stop_at:
            try:
                result = await chat_turn(client, run.url, token, SCRIPT[turn % len(SCRIPT)], conversation_id)
            except Exception as exc:
                run.errors.append(str(exc))
                await asyncio.sleep(0.5)
                continue
            done += 1
            turn += 1
            conversation_id = None if turn % 10 == 0 else result.conversation_id

    await debug_figures(client, run.url, reset=True)
    control = asyncio.create_task(control_loop_lag(seconds))
    await asyncio.gather(*(user(index) for index in range(users)))
    figures = await debug_figures(client, run.url)
    figures["control_lag_p99_ms"] = await control
    return figures, done


CONTROL = """
import asyncio, sys
from reference_server.runtime.loop_lag import LoopLagMonitor
async def main():
    monitor = LoopLagMonitor()
    await monitor.start()
    await asyncio.sleep(float(sys.argv[1]))
    print(monitor.snapshot().p99_ms)
asyncio.run(main())
"""


async def control_loop_lag(seconds: float) -> float:
    """Loop-lag P99 of an idle process measured at the same time: this machine's scheduling noise."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CONTROL,
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    out, _ = await process.communicate()
    return float(out.decode().strip() or "nan")


async def admin_execute(admin_dsn: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def create_databases(admin_dsn: str, tag: str) -> dict[str, str]:
    """A fresh PostgreSQL database per profile, as SQLAlchemy asyncpg URLs."""
    names = {name: f"chatopt_bench_{tag}_{name}" for name in ("baseline", "optimized")}
    await admin_execute(admin_dsn, *(f'CREATE DATABASE "{db}"' for db in names.values()))
    base = urlparse(admin_dsn)
    return {
        name: base._replace(scheme="postgresql+asyncpg", path=f"/{db}").geturl() for name, db in names.items()
    }


def p(values: list[float], q: float) -> float:
    return percentile(values, q)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=3, help="20-turn conversations per profile")
    parser.add_argument("--users", type=int, default=50, help="concurrent users in the load phase")
    parser.add_argument(
        "--think-seconds", type=float, default=3.0, help="pause between a conversation's turns in phase 1"
    )
    parser.add_argument(
        "--load-seconds", type=float, default=30.0, help="length of each profile's load phase"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_DSN",
        nargs="?",
        const=POSTGRES_ADMIN_DSN,
        help=f"keep history in fresh PostgreSQL databases, made and dropped via {POSTGRES_ADMIN_DSN}",
    )
    args = parser.parse_args()
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    secret = secrets.token_hex(16)
    env = {**os.environ, "CHATOPT_SECRET": secret, "CHATOPT_CONFIG": "/nonexistent/chatopt.toml"}
    workdir = Path(tempfile.mkdtemp(prefix="chatopt-bench-"))
    processes = Processes(workdir)
    mock_port, base_port, opt_port = free_port(), free_port(), free_port()
    common = ["--llm-base-url", f"http://127.0.0.1:{mock_port}/v1", "--log-level", "warning"]
    # cache and routing off: the difference comes from P1, P4 and P5 alone; one client IP sends every request
    optimized_switches = ["--set", "cache=false", "--set", "routing=false"]
    optimized_switches += ["--set", "rate_ip_per_hour=100000000"]
    databases = {name: f"sqlite+aiosqlite:///{workdir}/{name}.db" for name in ("baseline", "optimized")}
    if args.postgres:
        databases = await create_databases(args.postgres, secret[:8])
    try:
        processes.start("mock-llm", ["mock-llm", "--port", str(mock_port)], env)
        for name, port, extra in (("baseline", base_port, []), ("optimized", opt_port, optimized_switches)):
            database = databases[name]
            serve = ["serve", "--profile", name, "--port", str(port), "--database-url", database]
            processes.start(name, [*serve, *common, *extra], env)
        await wait_ready(f"http://127.0.0.1:{mock_port}/v1/models")
        baseline = ProfileRun("baseline", f"http://127.0.0.1:{base_port}")
        optimized = ProfileRun("optimized", f"http://127.0.0.1:{opt_port}")
        for profile in (baseline, optimized):
            await wait_ready(f"{profile.url}/healthz")

        client_lag = LoopLagMonitor(interval_s=0.02)
        await client_lag.start()
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        async with httpx.AsyncClient(timeout=300, limits=limits) as client:
            print(
                f"phase 1: {args.conversations} x 20-turn conversations per profile, both at once, "
                f"{args.think_seconds:g} s think time ...",
                flush=True,
            )
            started = time.monotonic()
            await asyncio.gather(
                *(
                    conversation(
                        client,
                        profile,
                        issue_token(secret, f"{profile.name}-{index}", "premium"),
                        SCRIPT,
                        args.think_seconds,
                    )
                    for profile in (baseline, optimized)
                    for index in range(args.conversations)
                )
            )
            phase1_s = time.monotonic() - started
            summaries = (await debug_figures(client, optimized.url))["summaries"]
            phase1_client_lag = client_lag.snapshot()

            load: dict[str, tuple[dict, int, int]] = {}
            for profile in (baseline, optimized):
                print(
                    f"phase 2: {args.users} users on {profile.name} for {args.load_seconds:g} s ...",
                    flush=True,
                )
                client_lag.reset()
                errors_before = len(profile.errors)
                figures, done = await load_phase(client, profile, secret, args.users, args.load_seconds)
                load[profile.name] = (figures, done, len(profile.errors) - errors_before)
                load[profile.name][0]["client_lag_p99_ms"] = client_lag.snapshot().p99_ms
        await client_lag.stop()
    finally:
        processes.stop()
        print(f"server and mock LLM logs: {workdir}")
        if args.postgres:
            await admin_execute(
                args.postgres,
                *(
                    f'DROP DATABASE IF EXISTS "{db.rsplit("/", 1)[1]}" WITH (FORCE)'
                    for db in databases.values()
                ),
            )

    report(args, baseline, optimized, summaries, load, phase1_s, phase1_client_lag.p99_ms)


def report(args, baseline, optimized, summaries, load, phase1_s, phase1_client_lag_ms) -> None:
    def ttfts(run: ProfileRun) -> list[float]:
        return [turn.ttft_s * 1000 for turn in run.turns]

    def prompt_tokens(run: ProfileRun) -> list[int]:
        return [turn.prompt_tokens for turn in run.turns]

    b_ttft, o_ttft = ttfts(baseline), ttfts(optimized)
    b_tokens, o_tokens = prompt_tokens(baseline), prompt_tokens(optimized)
    o_with_summaries = sum(o_tokens) + summaries["prompt_tokens"] + summaries["completion_tokens"]
    last = len(SCRIPT) - 1
    b_last = [t.prompt_tokens for t in baseline.turns if t.turn_index == last]
    o_last = [t.prompt_tokens for t in optimized.turns if t.turn_index == last]
    # what the input would cost at the mock's list prices: chat on `large`, summaries on `small`
    large, small = DEFAULT_TIERS["large"], DEFAULT_TIERS["small"]
    b_cost = sum(b_tokens) * large.input_usd_per_million
    o_cost = (
        sum(o_tokens) * large.input_usd_per_million
        + summaries["prompt_tokens"] * small.input_usd_per_million
        + summaries["completion_tokens"] * small.output_usd_per_million
    )
    figures = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": os.getloadavg(),
        "conversations": args.conversations,
        "turns": {"baseline": len(baseline.turns), "optimized": len(optimized.turns)},
        "ttft_ms": {
            "baseline": {"p50": p(b_ttft, 0.5), "p95": p(b_ttft, 0.95)},
            "optimized": {"p50": p(o_ttft, 0.5), "p95": p(o_ttft, 0.95)},
        },
        "prompt_tokens_per_request": {
            "baseline": statistics.fmean(b_tokens) if b_tokens else 0,
            "optimized": statistics.fmean(o_tokens) if o_tokens else 0,
            "optimized_with_summaries": o_with_summaries / len(o_tokens) if o_tokens else 0,
            "baseline_turn_20": statistics.fmean(b_last) if b_last else 0,
            "optimized_turn_20": statistics.fmean(o_last) if o_last else 0,
            "input_cost_saving": 1 - o_cost / b_cost if b_cost else 0,
        },
        "summaries": summaries,
        "load": {
            name: {
                "users": args.users,
                "seconds": args.load_seconds,
                "turns": done,
                "errors": errors,
                "loop_lag_ms": figures["loop_lag"],
                "client_lag_p99_ms": figures["client_lag_p99_ms"],
                "control_lag_p99_ms": figures["control_lag_p99_ms"],
            }
            for name, (figures, done, errors) in load.items()
        },
        "phase1_seconds": phase1_s,
        "phase1_client_lag_p99_ms": phase1_client_lag_ms,
        "errors": {"baseline": baseline.errors[:5], "optimized": optimized.errors[:5]},
    }
    t = figures["ttft_ms"]
    tok = figures["prompt_tokens_per_request"]
    print()
    print(f"TTFT over {len(b_ttft)} / {len(o_ttft)} turns (ms)      baseline   optimized   ratio")
    for q in ("p50", "p95"):
        b, o = t["baseline"][q], t["optimized"][q]
        print(f"  {q.upper():<34} {b:9.0f}   {o:9.0f}   {b / o if o else float('nan'):5.1f}x")
    print("prompt tokens per chat request          baseline   optimized   saving")
    saving = 1 - tok["optimized"] / tok["baseline"] if tok["baseline"] else float("nan")
    net = 1 - tok["optimized_with_summaries"] / tok["baseline"] if tok["baseline"] else float("nan")
    print(f"  {'chat calls only':<34} {tok['baseline']:9.0f}   {tok['optimized']:9.0f}   {saving:6.1%}")
    print(
        f"  {'incl. background summary calls':<34} {tok['baseline']:9.0f}   "
        f"{tok['optimized_with_summaries']:9.0f}   {net:6.1%}"
    )
    b20, o20 = tok["baseline_turn_20"], tok["optimized_turn_20"]
    at_20 = 1 - o20 / b20 if b20 else float("nan")
    print(f"  {'turn 20 alone':<34} {b20:9.0f}   {o20:9.0f}   {at_20:6.1%}")
    print(f"  {'input cost at list prices (summaries on small)':<48} {tok['input_cost_saving']:20.1%}")
    print(f"event-loop lag under load ({args.users} users, {args.load_seconds:g} s each)")
    print("                                      baseline   optimized")
    for key in ("p50_ms", "p99_ms", "max_ms"):
        b = figures["load"]["baseline"]["loop_lag_ms"][key]
        o = figures["load"]["optimized"]["loop_lag_ms"][key]
        print(f"  {key:<34} {b:9.1f}   {o:9.1f}")
    print(
        f"  {'turns completed':<34} {figures['load']['baseline']['turns']:9d}   "
        f"{figures['load']['optimized']['turns']:9d}"
    )
    print(
        f"  {'errors':<34} {figures['load']['baseline']['errors']:9d}   "
        f"{figures['load']['optimized']['errors']:9d}"
    )
    print(
        f"  {'client loop lag P99 (ms)':<34} {figures['load']['baseline']['client_lag_p99_ms']:9.1f}   "
        f"{figures['load']['optimized']['client_lag_p99_ms']:9.1f}"
    )
    control = {name: figures["load"][name]["control_lag_p99_ms"] for name in ("baseline", "optimized")}
    label = "idle control process lag P99 (ms)"
    print(f"  {label:<34} {control['baseline']:9.1f}   {control['optimized']:9.1f}")
    print(
        f"phase 1 took {phase1_s:.0f} s; client loop lag P99 {phase1_client_lag_ms:.1f} ms; "
        f"load average {figures['load_average'][0]:.2f}"
    )
    if baseline.errors or optimized.errors:
        print("errors:", json.dumps(figures["errors"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
