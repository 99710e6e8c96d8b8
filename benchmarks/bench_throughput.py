"""How many streamed chat requests can ONE load-generator process drive?

Side by side on the same endpoint, one process each, run one after the other:

* ``chatopt bench`` (closed loop, no think time): parses every SSE chunk, timestamps it,
  keeps a raw sample per request;
* locust ``HttpUser`` (requests, ``stream=True``, reads the stream line by line);
* locust ``FastHttpUser`` (geventhttpclient, reads the whole streamed body).

Two endpoints: the mock LLM in ``--fast`` mode (60-token answers, one SSE event per
token), and a canned SSE server (a pre-built 20-chunk answer written at once by a bare
asyncio server) that shows the generator's own ceiling when the target is not the limit.
Each line prints requests/s and the generator process's CPU. Goal: >= 1,000 streamed
requests/s from one chatopt process (goal 2,000).

    .venv/bin/python benchmarks/bench_throughput.py [--duration 10] [--users 64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import free_port, wait_for_port  # noqa: E402

MODEL = "gpt-4o-mini"
BODY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "How do I reset my password?"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def canned_response() -> bytes:
    events = [{"choices": [{"delta": {"role": "assistant", "content": ""}}]}]
    events += [{"choices": [{"delta": {"content": f" word{i}"}}]} for i in range(20)]
    events += [{"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 20, "total_tokens": 27}}]
    payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    data = payload.encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"


def serve_canned(port: int) -> None:
    """A bare asyncio HTTP/1.1 keep-alive server answering every POST with the canned stream."""
    import asyncio

    response = canned_response()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def run_locust(kind: str, url: str, users: int, duration: float) -> None:
    """One locust contender in this (gevent-patched) process; prints a JSON line."""
    import gevent
    import psutil
    from locust import FastHttpUser, HttpUser, constant, task
    from locust.env import Environment

    done = {"requests": 0, "failed": 0}

    def finish(ok: bool) -> None:
        done["requests"] += 1
        done["failed"] += not ok

    if kind == "HttpUser":

        class Contender(HttpUser):
            host = url
            wait_time = constant(0)

            @task
            def chat(self) -> None:
                with self.client.post(
                    "/v1/chat/completions", json=BODY, stream=True, catch_response=True
                ) as resp:
                    lines = sum(1 for line in resp.iter_lines() if line)
                    finish(resp.status_code == 200 and lines > 0)

    else:

        class Contender(FastHttpUser):  # type: ignore[no-redef]
            host = url
            wait_time = constant(0)
            concurrency = 1

            @task
            def chat(self) -> None:
                resp = self.client.post("/v1/chat/completions", json=BODY)
                finish(resp.status_code == 200 and b"[DONE]" in (resp.content or b""))

    environment = Environment(user_classes=[Contender])
    runner = environment.create_local_runner()
    process = psutil.Process()
    process.cpu_percent(None)
    runner.start(users, spawn_rate=users * 10)
    gevent.sleep(1.0)
    start_count, start = done["requests"], time.perf_counter()
    process.cpu_percent(None)
    gevent.sleep(duration)
    count, elapsed = done["requests"] - start_count, time.perf_counter() - start
    cpu = process.cpu_percent(None)
    runner.quit()
    print(json.dumps({"rps": count / elapsed, "cpu": cpu, "failed": done["failed"]}))


def run_chatopt(url: str, users: int, duration: float, workdir: Path) -> dict:
    scenario = workdir / "one.yaml"
    scenario.write_text("name: one-question\nconversations: [{turns: ['How do I reset my password?']}]\n")
    out = workdir / f"chatopt-{free_port()}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatopt",
            "bench",
            url,
            "--target",
            "openai",
            "--model",
            MODEL,
            "--scenario",
            str(scenario),
            "--users",
            str(users),
            "--spawn-rate",
            str(users * 10),
            "--duration",
            f"{duration}s",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    result = json.loads((out / "result.json").read_text())
    return {
        "rps": result["throughput"]["ok_requests_per_s"],
        "cpu": result["generator"]["cpu_percent_mean"],
        "failed": result["requests"]["failed"],
        "valid": result["valid"],
        "p50_ttft_ms": result["metrics"]["ttft_ms"]["p50"],
    }


def contender(kind: str, url: str, users: int, duration: float) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--contender",
            kind,
            "--url",
            url,
            "--users",
            str(users),
            "--duration",
            str(duration),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--serve-canned", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_canned:
        serve_canned(args.serve_canned)
        return
    if args.contender:
        run_locust(args.contender, args.url, args.users, args.duration)
        return
    servers = []
    try:
        mock_port, canned_port = free_port(), free_port()
        servers.append(
            subprocess.Popen(
                [sys.executable, "-m", "chatopt", "mock-llm", "--fast", "--port", str(mock_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        servers.append(subprocess.Popen([sys.executable, __file__, "--serve-canned", str(canned_port)]))
        wait_for_port("127.0.0.1", mock_port)
        wait_for_port("127.0.0.1", canned_port)
        print(
            f"{args.users} users, no think time, {args.duration:g} s measured per contender, one process each"
        )
        print(f"{'endpoint':<16}{'generator':<26}{'req/s':>9}{'CPU %':>8}{'failed':>8}")
        with tempfile.TemporaryDirectory() as tmp:
            for endpoint, port in (("mock LLM --fast", mock_port), ("canned SSE", canned_port)):
                url = f"http://127.0.0.1:{port}"
                rows = [("chatopt bench", run_chatopt(url, args.users, args.duration, Path(tmp)))]
                for kind in ("HttpUser", "FastHttpUser"):
                    rows.append((f"locust {kind}", contender(kind, url, args.users, args.duration)))
                for name, row in rows:
                    note = "" if row.get("valid", True) else "  (chatopt marked the run invalid)"
                    print(
                        f"{endpoint:<16}{name:<26}{row['rps']:>9.0f}{row['cpu']:>8.0f}{row['failed']:>8}{note}"
                    )
    finally:
        for server in servers:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
