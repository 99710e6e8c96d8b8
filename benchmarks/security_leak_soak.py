"""Leak soak: many request and cancel-mid-stream cycles, with tasks, fds and RSS sampled as they run.

Run: .venv/bin/python benchmarks/security_leak_soak.py [--cycles 10000] [--concurrency 24]

The optimized server (every Phase 2-3 switch on, SQLite, no cache) and the mock LLM (slow
decode so cancels land mid-answer) run in this process's event loop / a thread. Three
cycles in four open a streamed answer and hang up after the first token; the fourth asks
for a whole JSON answer. Every ``--cycles / 10`` cycles the script waits for in-flight work
to drain and prints asyncio tasks, open file descriptors and RSS, so growth shows as a
trend, not a single number.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
import uvicorn

from chatopt.mockllm import MockConfig, MockLLMServer
from reference_server.app import create_app
from reference_server.auth import issue_token
from reference_server.settings import settings_for_profile

SECRET = "leak-soak-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def usage(drain_s: float = 5.0, baseline_tasks: int | None = None) -> tuple[int, int, float]:
    """(tasks, fds, RSS MiB) once in-flight work has drained (bounded wait)."""
    for _ in range(int(drain_s / 0.1)):
        if baseline_tasks is None or len(asyncio.all_tasks()) <= baseline_tasks:
            break
        await asyncio.sleep(0.1)
    gc.collect()
    process = psutil.Process()
    return len(asyncio.all_tasks()), process.num_fds(), process.memory_info().rss / 2**20


async def soak(cycles: int, concurrency: int) -> None:
    slow_decode = {"tiers": {name: {"base_ms": 5, "prefill_ms_per_token": 0, "tokens_per_second": 60}
                             for name in ("small", "medium", "large")}}
    with MockLLMServer(MockConfig.fast(**slow_decode)) as mock, tempfile.TemporaryDirectory() as tmp:
        settings = settings_for_profile(
            "optimized", llm_base_url=mock.base_url, secret=SECRET, cache=False,
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'soak.db'}",
            rate_premium_per_hour=10**9, rate_ip_per_hour=10**9,
        )
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                               log_level="error", access_log=False))
        serving = asyncio.create_task(server.serve())
        for _ in range(1000):
            if server.started:
                break
            await asyncio.sleep(0.01)
        headers = {"Authorization": f"Bearer {issue_token(SECRET, 'soak', 'premium')}"}
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                gate = asyncio.Semaphore(concurrency)
                failures: Counter[int] = Counter()

                async def cycle(i: int) -> None:
                    async with gate:
                        if i % 4 == 3:
                            response = await client.post("/api/chat", json={"message": f"whole {i}"},
                                                         headers=headers)
                            if response.status_code != 200:
                                failures[response.status_code] += 1
                            return
                        stream_headers = {**headers, "Accept": "text/event-stream"}
                        async with client.stream("POST", "/api/chat", json={"message": f"cut {i}"},
                                                 headers=stream_headers) as response:
                            if response.status_code != 200:
                                failures[response.status_code] += 1
                            async for line in response.aiter_lines():
                                if line.startswith("event: token"):
                                    break

                await asyncio.gather(*(cycle(i) for i in range(100)))  # warm-up
                tasks0, fds0, rss0 = await usage()
                print(f"{'cycles':>8} {'tasks':>6} {'fds':>5} {'RSS MiB':>8} {'cycles/s':>9}")
                print(f"{0:>8} {tasks0:>6} {fds0:>5} {rss0:>8.1f} {'':>9}")
                step = max(1, cycles // 10)
                done = 0
                while done < cycles:
                    started = time.perf_counter()
                    batch = min(step, cycles - done)
                    await asyncio.gather(*(cycle(done + i) for i in range(batch)))
                    rate = batch / (time.perf_counter() - started)
                    done += batch
                    tasks, fds, rss = await usage(baseline_tasks=tasks0)
                    print(f"{done:>8} {tasks:>6} {fds:>5} {rss:>8.1f} {rate:>9.0f}")
                print(f"growth over {cycles} cycles: tasks {tasks - tasks0:+d}, fds {fds - fds0:+d}, "
                      f"RSS {rss - rss0:+.1f} MiB; non-200 answers: {dict(failures) or 'none'}")
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=24)
    args = parser.parse_args()
    asyncio.run(soak(args.cycles, args.concurrency))


if __name__ == "__main__":
    main()
