"""How faithfully does the mock LLM keep its configured timing under load?

Observed TTFT minus configured TTFT (and the same for the whole answer), measured by an
independent raw-socket asyncio client (hand-written HTTP/1.1 with keep-alive, SSE bytes
scanned as they arrive), at several steady-state concurrency levels, side by side with a
bare Starlette SSE endpoint that sleeps the same schedule: the limit of this machine.

Both servers run in their own process under uvicorn with httptools; the bare endpoint gets
uvicorn's default loop (uvloop when installed), the mock its own default (the asyncio loop,
see ``chatopt/mockllm/server.py``). The client runs in this process. Each level starts its
virtual users spread over a ramp, waits for steady state, then measures every stream that
starts within the window. The client's own event-loop lag and both processes' CPU are
reported, so a run where the client was the bottleneck shows it.

    .venv/bin/python benchmarks/mockllm_accuracy.py                  # 1, 100, 1000 streams
    .venv/bin/python benchmarks/mockllm_accuracy.py --levels 1,100 --window 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatopt import tokens as token_counter  # noqa: E402
from chatopt.mockllm import MockConfig, load_config  # noqa: E402
from chatopt.mockllm.answers import compose_answer  # noqa: E402

MODEL = "gpt-4o"  # the default "medium" tier: 500 ms + 0.1 ms/prompt token, 70 tokens/s
# A realistic chat mix (SPEC.md: ~80% simple, ~15% moderate, ~5% complex questions).
PROMPTS = {
    "faq": [
        "What are your opening hours?",
        "How do I reset my password?",
        "Qual é o prazo de entrega?",
        "Do you ship to Portugal?",
        "Como altero meu e-mail?",
    ],
    "moderate": [
        "Why is my chat slow and how should I fix it?",
        "Explain the difference between the basic and the premium plan.",
    ],
    "complex": [
        "Analyze the trade-offs between Redis and PostgreSQL for chat history; compare scaling step by step.",
    ],
}
MIX = [("faq", 0.80), ("moderate", 0.15), ("complex", 0.05)]
HISTORY = [
    {
        "role": "system",
        "content": "You are the support assistant of an online store. Answer briefly and politely.",
    },
    {"role": "user", "content": "Hi, I placed an order last week."},
    {
        "role": "assistant",
        "content": "Hello! I can help with that. What would you like to know about your order?",
    },
]


def bench_config() -> MockConfig:
    """The default tiers with jitter off, so every request's configured schedule is exactly known."""
    return load_config(
        {"tiers": {name: {"jitter_ms": 0, "token_jitter": 0} for name in ("small", "medium", "large")}}
    )


# ---------------------------------------------------------------------------------------------
# The two servers (each run in a subprocess of this script)


def serve_mock(port: int) -> None:
    from chatopt.mockllm.server import serve_forever

    serve_forever(bench_config(), host="127.0.0.1", port=port)


def bare_app():
    """A plain Starlette SSE endpoint that sleeps the schedule given in request headers."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    token_event = (
        b'data: {"id":"chatcmpl-bare","object":"chat.completion.chunk","created":0,"model":"bare",'
        b'"choices":[{"index":0,"delta":{"content":" tok"},"finish_reason":null}]}\n\n'
    )

    async def completions(request: Request) -> StreamingResponse:
        await request.json()
        ttft_s = float(request.headers["x-ttft-ms"]) / 1000
        gap_s = float(request.headers["x-itl-ms"]) / 1000
        count = int(request.headers["x-tokens"])

        async def events():
            await asyncio.sleep(ttft_s)
            for index in range(count):
                if index:
                    await asyncio.sleep(gap_s)
                yield token_event
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def serve_bare(port: int) -> None:
    import uvicorn

    from chatopt.mockllm.server import bind_socket, uvicorn_config

    sock = bind_socket("127.0.0.1", port)
    uvicorn.Server(uvicorn_config(bare_app(), loop="auto")).run(sockets=[sock])  # uvicorn's default: uvloop


# ---------------------------------------------------------------------------------------------
# The client


@dataclass(frozen=True)
class Job:
    """One request, its bytes for each server, and its configured schedule."""

    requests: dict[str, bytes]
    ttft_s: float
    total_s: float


def build_jobs(port: dict[str, int]) -> list[Job]:
    config = bench_config()
    tier = config.tiers[config.tier_name_for(MODEL) or "medium"]
    encoding = token_counter.encoding_for_model(MODEL).encoding
    jobs = []
    for kind, share in MIX:
        for question in PROMPTS[kind]:
            messages = [*HISTORY, {"role": "user", "content": question}]
            prompt_tokens = token_counter.count_messages(messages, encoding=encoding)
            tokens = len(
                token_counter.encode(
                    compose_answer(messages, seed=config.seed, encoding=encoding), encoding=encoding
                )
            )
            ttft_ms = tier.time_to_first_token_ms(prompt_tokens)
            gap_ms = 1000 / tier.tokens_per_second
            body = json.dumps({"model": MODEL, "messages": messages, "stream": True}).encode()
            requests = {}
            for server, server_port in port.items():
                extra = (
                    f"x-ttft-ms: {ttft_ms}\r\nx-itl-ms: {gap_ms}\r\nx-tokens: {tokens}\r\n"
                    if server == "bare"
                    else ""
                )
                requests[server] = (
                    f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{server_port}\r\n"
                    f"content-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
                ).encode() + body
            weight = max(1, round(share * 100 / len(PROMPTS[kind])))
            jobs.extend([Job(requests, ttft_ms / 1000, (ttft_ms + gap_ms * (tokens - 1)) / 1000)] * weight)
    return jobs


@dataclass
class Samples:
    ttft_error_ms: list[float] = field(default_factory=list)
    total_error_ms: list[float] = field(default_factory=list)
    failures: int = 0


_CONTENT = b'{"content":"'


async def stream_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes):
    """Send one request; return (first content delta time, end time) as perf_counter seconds."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
    buffer = bytearray()
    first_at = None
    scanned = 0
    while True:
        data = await reader.read(65536)
        now = time.perf_counter()
        if not data:
            raise ConnectionError("closed mid-stream")
        buffer += data
        if first_at is None:
            at = buffer.find(_CONTENT, max(0, scanned - len(_CONTENT)))
            while at != -1 and at + len(_CONTENT) < len(buffer) and buffer[at + len(_CONTENT)] == ord('"'):
                at = buffer.find(_CONTENT, at + 1)
            if at != -1 and at + len(_CONTENT) < len(buffer):
                first_at = now
            scanned = len(buffer)
        if buffer.endswith(b"\r\n0\r\n\r\n"):
            if first_at is None:
                raise RuntimeError("no content delta in the stream")
            return first_at, now
        if len(buffer) > 1 << 20 and first_at is not None:
            del buffer[: len(buffer) - 16]
            scanned = len(buffer)


class Connections:
    """Idle keep-alive connections to one server, reused by the next stream."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle:
            return self.idle.pop()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    def close_all(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


@dataclass
class Traffic:
    """What one level's client is doing: samples, streams in flight, how late it started them."""

    window: tuple[float, float]
    samples: Samples = field(default_factory=Samples)
    in_flight: int = 0
    start_lag_ms: list[float] = field(default_factory=list)


async def one_stream(
    server: str, job: Job, connections: Connections, traffic: Traffic, scheduled: float
) -> None:
    """Run one stream on a pooled connection and record its errors when it started in the window."""
    traffic.in_flight += 1
    try:
        reader, writer = await connections.take()
        started = time.perf_counter()
        in_window = traffic.window[0] <= started < traffic.window[1]
        if in_window:
            traffic.start_lag_ms.append((started - scheduled) * 1000)
        try:
            first_at, ended = await asyncio.wait_for(stream_once(reader, writer, job.requests[server]), 120)
        except (OSError, RuntimeError, asyncio.IncompleteReadError, TimeoutError):
            writer.close()
            traffic.samples.failures += in_window
            return
        connections.idle.append((reader, writer))
        if in_window:
            traffic.samples.ttft_error_ms.append((first_at - started - job.ttft_s) * 1000)
            traffic.samples.total_error_ms.append((ended - started - job.total_s) * 1000)
    except OSError:
        traffic.samples.failures += 1
    finally:
        traffic.in_flight -= 1


async def drive(
    server: str,
    streams: int,
    jobs: list[Job],
    connections: Connections,
    traffic: Traffic,
    rng: random.Random,
    mean_stream_s: float,
) -> None:
    """Offer load until the window closes, then let the streams in flight finish.

    One stream: one request after another. More: open-loop Poisson arrivals at the rate that
    keeps ``streams`` in flight on a server that keeps its schedule (Little's law), so both
    servers get the same offered load whatever their speed.
    """
    tasks: set[asyncio.Task] = set()
    if streams == 1:
        while time.perf_counter() < traffic.window[1]:
            await one_stream(server, rng.choice(jobs), connections, traffic, time.perf_counter())
        return
    rate = streams / mean_stream_s
    at = time.perf_counter()
    while at < traffic.window[1]:
        at += rng.expovariate(rate)
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one_stream(server, rng.choice(jobs), connections, traffic, at))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=180)


async def loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    """The client's own health: how late a 5 ms timer fires."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append((time.perf_counter() - before - 0.005) * 1000)


@dataclass
class LevelResult:
    server: str
    streams: int
    samples: Samples
    mean_in_flight: float
    client_lag_p99_ms: float
    start_lag_p99_ms: float
    server_cpu: float
    client_cpu: float


async def run_level(
    server: str, port: int, pid: int, streams: int, jobs: list[Job], window_s: float, seed: int
) -> LevelResult:
    mean_stream_s = statistics.fmean(job.total_s for job in jobs)
    warm_up_s = 2 * mean_stream_s if streams > 1 else 0.0
    now = time.perf_counter()
    traffic = Traffic(window=(now + warm_up_s, now + warm_up_s + window_s))
    lags: list[float] = []
    in_flight: list[int] = []
    stop = asyncio.Event()
    lag_task = asyncio.create_task(loop_lag(stop, lags))
    server_process, client_process = psutil.Process(pid), psutil.Process()

    async def watch() -> tuple[float, float]:
        await asyncio.sleep(max(0.0, traffic.window[0] - time.perf_counter()))
        lags.clear()
        server_before = sum(server_process.cpu_times()[:2])
        client_before = sum(client_process.cpu_times()[:2])
        while time.perf_counter() < traffic.window[1]:
            in_flight.append(traffic.in_flight)
            await asyncio.sleep(0.05)
        return (
            (sum(server_process.cpu_times()[:2]) - server_before) / window_s,
            (sum(client_process.cpu_times()[:2]) - client_before) / window_s,
        )

    watch_task = asyncio.create_task(watch())
    connections = Connections(port)
    await drive(server, streams, jobs, connections, traffic, random.Random(seed), mean_stream_s)
    server_cpu, client_cpu = await watch_task
    connections.close_all()
    stop.set()
    await lag_task
    return LevelResult(
        server=server,
        streams=streams,
        samples=traffic.samples,
        mean_in_flight=statistics.fmean(in_flight) if in_flight else float("nan"),
        client_lag_p99_ms=percentile(lags, 99),
        start_lag_p99_ms=percentile(traffic.start_lag_ms, 99),
        server_cpu=server_cpu,
        client_cpu=client_cpu,
    )


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def start_server(kind: str) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the {kind} server did not start")


def print_medians(runs: list[list[LevelResult]]) -> None:
    """Per level and server: the median over runs of each run's percentiles."""
    print(f"median of {len(runs)} runs")
    print(f"{'streams':>7} {'server':>6} {'TTFT err P50':>12} {'P99':>8} {'total err P50':>13} {'P99':>8}")
    for index, first in enumerate(runs[0]):
        same = [run[index] for run in runs]

        def median_of(metric: str, q: float, same: list[LevelResult] = same) -> float:
            return statistics.median(percentile(getattr(r.samples, metric), q) for r in same)

        print(
            f"{first.streams:>7} {first.server:>6} {median_of('ttft_error_ms', 50):>10.2f}ms "
            f"{median_of('ttft_error_ms', 99):>6.2f}ms {median_of('total_error_ms', 50):>11.2f}ms "
            f"{median_of('total_error_ms', 99):>6.2f}ms"
        )


def print_table(results: list[LevelResult]) -> None:
    header = (
        f"{'streams':>7} {'server':>6} {'in flight':>9} {'samples':>7} {'fail':>4} {'TTFT err P50':>12} "
        f"{'P99':>8} {'total err P50':>13} {'P99':>9} {'srv CPU':>7} {'cli CPU':>7} {'cli lag P99':>11} "
        f"{'start lag P99':>13}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        s = r.samples
        print(
            f"{r.streams:>7} {r.server:>6} {r.mean_in_flight:>9.0f} {len(s.ttft_error_ms):>7} "
            f"{s.failures:>4} "
            f"{percentile(s.ttft_error_ms, 50):>10.2f}ms {percentile(s.ttft_error_ms, 99):>6.2f}ms "
            f"{percentile(s.total_error_ms, 50):>11.2f}ms {percentile(s.total_error_ms, 99):>7.2f}ms "
            f"{r.server_cpu:>6.0%} {r.client_cpu:>7.0%} {r.client_lag_p99_ms:>9.2f}ms "
            f"{r.start_lag_p99_ms:>11.2f}ms"
        )
    print()
    print_ratios(results)


def print_ratios(results: list[LevelResult]) -> None:
    by_level: dict[int, dict[str, LevelResult]] = {}
    for r in results:
        by_level.setdefault(r.streams, {})[r.server] = r
    for streams, pair in by_level.items():
        if {"mock", "bare"} <= set(pair):
            mock, bare = pair["mock"].samples.ttft_error_ms, pair["bare"].samples.ttft_error_ms
            p50 = percentile(mock, 50) / percentile(bare, 50)
            p99 = percentile(mock, 99) / percentile(bare, 99)
            print(f"{streams:>5} streams: mock/bare TTFT error ratio  P50 {p50:.2f}x   P99 {p99:.2f}x")


async def main_async(
    levels: list[int], window_s: float, servers: dict[str, tuple[int, int]], seed: int, together_up_to: int
) -> list[LevelResult]:
    """Each level against both servers: at the same time up to ``together_up_to`` streams (both
    see the same machine noise), one after the other above it (where each saturates a core)."""
    jobs = build_jobs({name: port for name, (port, _) in servers.items()})
    results: list[LevelResult] = []
    order = list(servers)
    for index, streams in enumerate(levels):
        window = max(window_s, 30.0) if streams == 1 else window_s

        def level(server: str, streams: int = streams, window: float = window) -> Awaitable[LevelResult]:
            port, pid = servers[server]
            return run_level(server, port, pid, streams, jobs, window, seed=seed + streams)

        if streams <= together_up_to:
            print(f"... {streams} streams against each server at once", file=sys.stderr, flush=True)
            results.extend(await asyncio.gather(*(level(server) for server in order)))
        else:
            for server in order if index % 2 == 0 else order[::-1]:
                print(f"... {streams} streams against {server}", file=sys.stderr, flush=True)
                results.append(await level(server))
                await asyncio.sleep(2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", default="1,100,1000", help="comma-separated concurrent stream counts")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per level and server")
    parser.add_argument(
        "--together-up-to", type=int, default=100, help="run both servers at once up to this many streams"
    )
    parser.add_argument("--repeat", type=int, default=1, help="run the sweep this many times; report medians")
    parser.add_argument("--json", type=Path, help="also write every run's percentiles here")
    parser.add_argument("--serve", choices=["mock", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    if args.serve:
        (serve_mock if args.serve == "mock" else serve_bare)(args.port)
        return
    levels = [int(level) for level in args.levels.split(",")]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    processes = {}
    runs: list[list[LevelResult]] = []
    try:
        for kind in ("mock", "bare"):
            processes[kind] = start_server(kind)
        servers = {kind: (port, process.pid) for kind, (process, port) in processes.items()}
        for run in range(args.repeat):
            print(
                f"run {run + 1}: load {os.getloadavg()[0]:.2f} (1 min), {psutil.cpu_count()} CPUs",
                file=sys.stderr,
            )
            runs.append(runner(main_async(levels, args.window, servers, run * 10_000, args.together_up_to)))
            print_table(runs[-1])
            print()
    finally:
        for process, _ in processes.values():
            process.terminate()
            process.wait(timeout=15)
    if len(runs) > 1:
        print_medians(runs)
    if args.json:
        args.json.write_text(json.dumps([[result_record(r) for r in run] for run in runs], indent=2))


def result_record(r: LevelResult) -> dict:
    """One level's figures as JSON-ready data."""
    return {
        "server": r.server,
        "streams": r.streams,
        "samples": len(r.samples.ttft_error_ms),
        "failures": r.samples.failures,
        "ttft_error_ms": {
            "p50": percentile(r.samples.ttft_error_ms, 50),
            "p99": percentile(r.samples.ttft_error_ms, 99),
        },
        "total_error_ms": {
            "p50": percentile(r.samples.total_error_ms, 50),
            "p99": percentile(r.samples.total_error_ms, 99),
        },
        "mean_in_flight": r.mean_in_flight,
        "server_cpu": r.server_cpu,
        "client_cpu": r.client_cpu,
        "client_lag_p99_ms": r.client_lag_p99_ms,
        "start_lag_p99_ms": r.start_lag_p99_ms,
    }


if __name__ == "__main__":
    main()
