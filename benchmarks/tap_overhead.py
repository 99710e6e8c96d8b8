"""How much latency the recording tap adds: the same requests direct vs through the tap, side by side.

Starts the mock LLM (``chatopt mock-llm --fast``) and the tap (``chatopt tap``) as their
own processes on free ports, then sends the same chat request alternately to each,
non-streamed (total time) and streamed (time to first content chunk and total time).
A plain byte relay (an asyncio socket pipe, no HTTP parsing) runs as a third path: on a
busy machine, one more local process hop costs scheduling time by itself, so the tap's
own cost is tap minus relay; tap minus direct is what a backend would feel. The goal
is under 1 ms.

Run: .venv/bin/python benchmarks/tap_overhead.py [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

#: A byte relay with no HTTP parsing at all: what one extra local hop costs on this machine right now.
RELAY = """
import asyncio, sys
upstream_port, port = int(sys.argv[1]), int(sys.argv[2])
async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
async def handle(client_reader, client_writer):
    upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
    await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What are your support hours?"}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listened on port {port}")


def timed(client: httpx.Client, url: str, stream: bool) -> tuple[float, float]:
    """(time to first content chunk, total) in ms for one request."""
    started = time.perf_counter()
    first = None
    body = {**BODY, "stream": stream}
    with client.stream("POST", url, json=body) as response:
        for chunk in response.iter_raw():
            if first is None and (not stream or b'"content":"' in chunk and b'"content":""' not in chunk):
                first = time.perf_counter()
    total = time.perf_counter()
    return ((first or total) - started) * 1000, (total - started) * 1000


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per path and mode")
    args = parser.parse_args()
    mock_port, tap_port, relay_port = free_port(), free_port(), free_port()
    trace = Path(tempfile.mkdtemp(prefix="chatopt-tap-bench-")) / "trace.jsonl"
    mock = subprocess.Popen(
        [sys.executable, "-m", "chatopt", "mock-llm", "--fast", "--port", str(mock_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tap = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatopt",
            "tap",
            "--upstream",
            f"http://127.0.0.1:{mock_port}/v1",
            "--port",
            str(tap_port),
            "--trace",
            str(trace),
            "--duration",
            "600",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    relay = subprocess.Popen([sys.executable, "-c", RELAY, str(mock_port), str(relay_port)])
    try:
        wait_for(mock_port)
        wait_for(tap_port)
        wait_for(relay_port)
        urls = {
            "direct": f"http://127.0.0.1:{mock_port}/v1/chat/completions",
            "relay": f"http://127.0.0.1:{relay_port}/v1/chat/completions",
            "tap": f"http://127.0.0.1:{tap_port}/v1/chat/completions",
        }
        results: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        # TCP_NODELAY as the OpenAI SDK's async transport has it: without it, Nagle's algorithm and
        # delayed ACKs add ~40 ms to some request/response write patterns, on any path.
        nodelay = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        with httpx.Client(timeout=30, transport=nodelay) as client:
            for stream in (False, True):
                for _ in range(20):  # warm both paths' connections
                    for url in urls.values():
                        timed(client, url, stream)
                for _ in range(args.requests):  # alternate so drift hits both paths alike
                    for name, url in urls.items():
                        results.setdefault((name, stream), []).append(timed(client, url, stream))
        recorded = sum(1 for _ in trace.open()) if trace.exists() else 0
    finally:
        for process in (tap, relay, mock):
            process.terminate()
            process.wait(timeout=15)
    rows = []
    header = f"{'mode':<7} {'metric':<6} {'direct':>8} {'relay':>8} {'tap':>8} {'tap-direct':>11}"
    print(header + f" {'tap-relay':>10} {'tap p95':>8}   (p50 ms unless noted)")
    for stream in (False, True):
        for index, metric in ((0, "TTFT"), (1, "total")):
            if not stream and metric == "TTFT":
                continue
            p50 = {name: summary([s[index] for s in results[(name, stream)]]) for name in urls}
            mode = "stream" if stream else "json"
            row = {"mode": mode, "metric": metric}
            row |= {f"{name}_p50_ms": round(p50[name][0], 3) for name in urls}
            row |= {f"{name}_p95_ms": round(p50[name][1], 3) for name in urls}
            row["tap_minus_direct_ms"] = round(p50["tap"][0] - p50["direct"][0], 3)
            row["tap_minus_relay_ms"] = round(p50["tap"][0] - p50["relay"][0], 3)
            rows.append(row)
            direct, relayed, tapped = p50["direct"][0], p50["relay"][0], p50["tap"][0]
            print(
                f"{mode:<7} {metric:<6} {direct:>8.2f} {relayed:>8.2f} {tapped:>8.2f}"
                f" {tapped - direct:>11.2f} {tapped - relayed:>10.2f} {p50['tap'][1]:>8.2f}"
            )
    print(f"{args.requests} requests per path and mode; {recorded} AI calls recorded by the tap")
    print(json.dumps({"requests": args.requests, "recorded": recorded, "rows": rows}))


if __name__ == "__main__":
    main()
