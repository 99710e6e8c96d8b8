"""Is chatopt's clock right? TTFT and E2E P50 against a mock LLM with known latency.

Runs, in one session and one after the other against the same mock LLM (no jitter,
TTFT = 200 ms, 100 tokens/s):

1. ``chatopt bench`` (locust + gevent load generator), closed loop, 4 users;
2. an independent raw-socket asyncio client (hand-written HTTP/1.1, chunked decoding and
   SSE parsing, nothing shared with chatopt), 4 concurrent keep-alive connections;

and prints configured vs measured P50 TTFT and E2E side by side. Goal: within 2 ms.

    .venv/bin/python benchmarks/bench_accuracy.py [--duration 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import free_port, wait_for_port  # noqa: E402

BASE_MS = 200.0
TOKENS_PER_SECOND = 100.0
PROMPT = "How do I reset my password?"
MODEL = "bench-model"


def start_mock(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    config = workdir / "mock.yaml"
    config.write_text(
        "tiers:\n"
        f"  bench: {{base_ms: {BASE_MS}, prefill_ms_per_token: 0, tokens_per_second: {TOKENS_PER_SECOND}}}\n"
        f"models:\n  {MODEL}: bench\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chatopt", "mock-llm", "--port", str(port), "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port("127.0.0.1", port)
    return process, port


def expected_e2e_ms(tokens: int) -> float:
    return BASE_MS + (tokens - 1) * 1000 / TOKENS_PER_SECOND


def run_chatopt(
    port: int, workdir: Path, duration: float, users: int
) -> tuple[list[float], list[float], list[int]]:
    scenario = workdir / "one.yaml"
    scenario.write_text(f"name: one-question\nconversations: [{{turns: ['{PROMPT}']}}]\n")
    out = workdir / "chatopt"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "chatopt",
            "bench",
            f"http://127.0.0.1:{port}",
            "--target",
            "openai",
            "--model",
            MODEL,
            "--scenario",
            str(scenario),
            "--users",
            str(users),
            "--spawn-rate",
            "100",
            "--duration",
            f"{duration}s",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    samples = pd.read_csv(out / "samples.csv")
    samples = samples[samples["ok"]]
    return (
        samples["ttft_ms"].tolist(),
        samples["e2e_ms"].tolist(),
        samples["output_tokens"].astype(int).tolist(),
    )


async def _raw_worker(port: int, deadline: float, out: list[tuple[float, float, int]]) -> None:
    body = json.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(head + body)
            await writer.drain()
            headers = await reader.readuntil(b"\r\n\r\n")
            assert b"chunked" in headers.lower(), headers
            first = end = None
            tokens = 0
            pending = b""
            while True:
                size = int((await reader.readline()).strip(), 16)
                if size == 0:
                    await reader.readline()
                    break
                pending += await reader.readexactly(size)
                await reader.readexactly(2)
                now = time.perf_counter()
                while b"\n\n" in pending:
                    event, pending = pending.split(b"\n\n", 1)
                    data = event.decode().removeprefix("data: ")
                    if data == "[DONE]":
                        end = now
                        continue
                    chunk = json.loads(data)
                    if chunk.get("usage"):
                        tokens = chunk["usage"]["completion_tokens"]
                    choices = chunk.get("choices") or []
                    if first is None and choices and choices[0].get("delta", {}).get("content"):
                        first = now
            out.append(((first - start) * 1000, ((end or time.perf_counter()) - start) * 1000, tokens))
    finally:
        writer.close()


def run_raw(port: int, duration: float, users: int) -> tuple[list[float], list[float], list[int]]:
    results: list[tuple[float, float, int]] = []

    async def main() -> None:
        deadline = time.perf_counter() + duration
        await asyncio.gather(*(_raw_worker(port, deadline, results) for _ in range(users)))

    asyncio.run(main())
    return [r[0] for r in results], [r[1] for r in results], [r[2] for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--users", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        mock, port = start_mock(workdir)
        try:
            chatopt = run_chatopt(port, workdir, args.duration, args.users)
            raw = run_raw(port, args.duration, args.users)
        finally:
            mock.kill()
            mock.wait()
    rows = []
    for name, (ttft, e2e, tokens) in (("chatopt bench", chatopt), ("raw asyncio socket", raw)):
        expected = statistics.median(expected_e2e_ms(t) for t in tokens)
        rows.append((name, len(ttft), statistics.median(ttft), statistics.median(e2e), expected))
    print(f"configured TTFT {BASE_MS:.1f} ms, {TOKENS_PER_SECOND:g} tokens/s; ", end="")
    print(f"{args.users} users, {args.duration:g} s each")
    header = ("client", "n", "P50 TTFT", "Δ config", "P50 E2E", "config E2E", "Δ config")
    print(f"{header[0]:<20}" + "".join(f"{h:>11}" for h in header[1:]))
    for name, n, ttft, e2e, expected in rows:
        values = (n, f"{ttft:.2f}", f"{ttft - BASE_MS:+.2f}", f"{e2e:.2f}", f"{expected:.2f}")
        values += (f"{e2e - expected:+.2f}",)
        print(f"{name:<20}" + "".join(f"{v:>11}" for v in values))
    (_, _, c_ttft, c_e2e, _), (_, _, r_ttft, r_e2e, _) = rows
    print(f"chatopt - raw: P50 TTFT {c_ttft - r_ttft:+.2f} ms, P50 E2E {c_e2e - r_e2e:+.2f} ms")


if __name__ == "__main__":
    main()
