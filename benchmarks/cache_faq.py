"""The FAQ-heavy scenario against the reference server, cache on vs cache off, side by side.

Run: .venv/bin/python benchmarks/cache_faq.py [--requests 300] [--concurrency 4] [--redis URL]

Both servers stream (SSE) in front of the same mock LLM with its default latency tiers
(small ~250 ms to first token). Each request is one conversation of ``scenarios/faq.yaml``
(a paraphrase picked at random, fixed seed). TTFT is measured at the client: request
sent to the first ``token`` event. Prints the hit rate per layer and TTFT P50/P95 per
``X-Cache`` status, and the cache-off TTFT for the same requests.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import threading
import time
from collections import defaultdict
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import numpy as np
import uvicorn

from chatopt.bench.scenario import load_scenario
from chatopt.mockllm import MockLLMServer
from reference_server.app import create_app
from reference_server.auth import issue_token
from reference_server.settings import settings_for_profile


class ServerThread:
    """The reference server under uvicorn in a background thread."""

    def __init__(self, app) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the reference server did not start")
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


async def one_request(client: httpx.AsyncClient, message: str, token: str) -> tuple[str, float]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    started = time.perf_counter()
    ttft = float("nan")
    async with client.stream("POST", "/api/chat", json={"message": message}, headers=headers) as response:
        status = response.headers.get("x-cache", "off")
        async for line in response.aiter_lines():
            if line == "event: token" and ttft != ttft:
                ttft = (time.perf_counter() - started) * 1000
    return status, ttft


async def run(url: str, secret: str, messages: list[str], concurrency: int) -> list[tuple[str, float]]:
    token = issue_token(secret, "faq-bench")
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def bounded(message: str) -> tuple[str, float]:
            async with gate:
                return await one_request(client, message, token)

        results = []
        for message in messages:  # issue in order so earlier answers can be cached for later ones
            results.append(asyncio.create_task(bounded(message)))
        return [await r for r in results]


def summarize(label: str, results: list[tuple[str, float]]) -> dict[str, float]:
    by_status: dict[str, list[float]] = defaultdict(list)
    for status, ttft in results:
        by_status[status].append(ttft)
    print(f"{label}: {len(results)} requests")
    print(f"  {'X-Cache':>13} {'share':>7} {'TTFT P50':>10} {'TTFT P95':>10}")
    for status in sorted(by_status):
        values = by_status[status]
        print(f"  {status:>13} {100 * len(values) / len(results):>6.1f}% {np.percentile(values, 50):>8.1f}ms "
              f"{np.percentile(values, 95):>8.1f}ms")
    every = [t for _, t in results]
    print(f"  {'all':>13} {'':>7} {np.percentile(every, 50):>8.1f}ms {np.percentile(every, 95):>8.1f}ms")
    return {status: float(np.percentile(values, 50)) for status, values in by_status.items()} | {
        "all": float(np.percentile(every, 50))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--redis", help="Redis URL for the cache (default: in-process)")
    args = parser.parse_args()
    scenario = load_scenario("faq")
    rng = random.Random(42)
    messages = [scenario.pick(rng).messages(rng)[0] for _ in range(args.requests)]
    with MockLLMServer() as mock, TemporaryDirectory() as tmp:
        figures = {}
        for label, cache in (("cache on", True), ("cache off", False)):
            settings = settings_for_profile(
                "baseline", llm_base_url=mock.base_url, streaming=True, cache=cache, redis_url=args.redis,
                database_url=f"sqlite+aiosqlite:///{Path(tmp) / label.replace(' ', '-')}.db",
            )
            with ServerThread(create_app(settings)) as url:
                results = asyncio.run(run(url, settings.secret, messages, args.concurrency))
            figures[label] = (summarize(label, results), results)
    on, on_results = figures["cache on"]
    off, _ = figures["cache off"]
    hits = sum(status.startswith("hit") for status, _ in on_results)
    print(f"hit rate: {100 * hits / len(on_results):.1f}% (goal >= 70%)")
    for status in ("hit-exact", "hit-semantic"):
        if status in on:
            print(f"TTFT P50 {status}: {on[status]:.1f} ms vs {off['all']:.1f} ms without cache "
                  f"({off['all'] / on[status]:.0f}x faster)")
    print(f"TTFT P50 over all requests: {on['all']:.1f} ms with cache vs {off['all']:.1f} ms without")


if __name__ == "__main__":
    main()
