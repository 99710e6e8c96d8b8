"""What Phase 2 hardening and Phase 3 monitoring cost, measured side by side in one run.

Run: .venv/bin/python benchmarks/security_overhead.py [--redis redis://127.0.0.1:6379/0] [--requests 400]

1. Rate-limit decision (user + IP windows in one call): Redis Lua script vs in-process
   windows, P50/P99 per decision and decisions per second at 50 concurrent callers.
2. Input filter per message (length, spam, profanity, nh3 sanitizing) on English and
   Portuguese prose, P50/P99.
3. The whole server: ``POST /api/chat`` (JSON) through the fast mock LLM, with the
   ``rate_limits``, ``input_validation``, ``resilience`` and ``monitoring`` switches on vs
   off (everything else as in ``optimized``), alternating rounds; P50/P95 and their ratio.
4. A ``/metrics`` scrape after that traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvicorn

from chatopt.mockllm import MockConfig, MockLLMServer
from reference_server.app import create_app
from reference_server.auth import issue_token
from reference_server.security.admission import MessageFilter
from reference_server.security.ratelimit import RateLimitCheck, RateLimitPolicy, SlidingWindowLimiter
from reference_server.settings import settings_for_profile

HARDENING = ("rate_limits", "input_validation", "resilience", "monitoring")
SECRET = "benchmark-secret"
PROSE = [
    "How do I configure nginx for websockets with sticky sessions behind a load balancer?",
    "Como faço para configurar o servidor com sessões persistentes e balanceamento de carga?",
    "Summarize the last quarter's support tickets by product area and highlight regressions.",
    "Explique a diferença entre cache exato e cache semântico, com exemplos práticos.",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def _decide_all(
    limiter: SlidingWindowLimiter,
    decisions: int,
    concurrency: int,
    policies: tuple[RateLimitPolicy, RateLimitPolicy],
    latencies: list[float],
) -> None:
    """``decisions`` hits over 200 users and 50 addresses, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)
    user, ip = policies

    async def one(i: int) -> None:
        async with gate:
            started = time.perf_counter()
            await limiter.hit(RateLimitCheck(user, f"user:{i % 200}"), RateLimitCheck(ip, f"ip:{i % 50}"))
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one(i) for i in range(decisions)))


async def bench_limiter(redis_url: str | None, decisions: int = 3000, concurrency: int = 50) -> None:
    print("1. rate-limit decision (user + IP windows, one call)")
    print(f"   {'backend':<12} {'P50 ms':>8} {'P99 ms':>8} {'decisions/s':>12}")
    backends: list[tuple[str, object | None]] = [("in-process", None)]
    client = None
    if redis_url:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(redis_url)
        backends.append(("redis-lua", client))
    user, ip = RateLimitPolicy("free", 10**9, 3600), RateLimitPolicy("ip", 10**9, 3600)
    prefix = f"chatopt-bench:{uuid.uuid4().hex[:8]}:"
    try:
        for name, redis in backends:
            limiter = SlidingWindowLimiter(redis, prefix=prefix, redis_timeout_s=10)
            latencies: list[float] = []
            started = time.perf_counter()
            await _decide_all(limiter, decisions, concurrency, (user, ip), latencies)
            elapsed = time.perf_counter() - started
            rate = decisions / elapsed
            print(f"   {name:<12} {pct(latencies, 50):8.3f} {pct(latencies, 99):8.3f} {rate:12.0f}")
    finally:
        if client is not None:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await client.delete(*keys)
            await client.aclose()


def bench_filter(rounds: int = 2000) -> None:
    settings = settings_for_profile("optimized")
    message_filter = MessageFilter(settings)
    latencies = []
    for i in range(rounds):
        text = PROSE[i % len(PROSE)]
        started = time.perf_counter()
        message_filter.clean(text)
        latencies.append((time.perf_counter() - started) * 1e6)
    print("2. input filter per message (length + spam + profanity + sanitize)")
    print(f"   P50 {pct(latencies, 50):.1f} µs   P99 {pct(latencies, 99):.1f} µs   ({rounds} messages)")


class ServerThread:
    def __init__(self, app: object, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        for _ in range(1000):
            if self.server.started:
                break
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def timed_requests(url: str, count: int, concurrency: int = 8) -> list[float]:
    headers = {"Authorization": f"Bearer {issue_token(SECRET, 'bench-user', 'premium')}"}
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def one(i: int) -> None:
            async with gate:
                started = time.perf_counter()
                body = {"message": f"{PROSE[i % 4]} #{i}"}
                response = await client.post("/api/chat", json=body, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(count)))
    return latencies


async def bench_server(requests: int, rounds: int = 3) -> None:
    print("3. POST /api/chat through the fast mock LLM (JSON answers, 8 concurrent clients)")
    results: dict[str, list[float]] = {"hardening+monitoring on": [], "hardening+monitoring off": []}
    scrape_ms: list[float] = []
    with MockLLMServer(MockConfig.fast()) as mock, tempfile.TemporaryDirectory() as tmp:
        ports = {}
        apps = {}
        for label, on in (("hardening+monitoring on", True), ("hardening+monitoring off", False)):
            settings = settings_for_profile(
                "optimized", llm_base_url=mock.base_url, secret=SECRET, cache=False, streaming=False,
                database_url=f"sqlite+aiosqlite:///{Path(tmp) / (str(on) + '.db')}",
                rate_premium_per_hour=10**9, rate_ip_per_hour=10**9, **{name: on for name in HARDENING},
            )
            ports[label] = free_port()
            apps[label] = create_app(settings)
        with ServerThread(apps["hardening+monitoring on"], ports["hardening+monitoring on"]), \
                ServerThread(apps["hardening+monitoring off"], ports["hardening+monitoring off"]):
            for port in ports.values():
                await timed_requests(f"http://127.0.0.1:{port}", 40)  # warm-up
            for _ in range(rounds):
                for label, port in ports.items():
                    results[label] += await timed_requests(f"http://127.0.0.1:{port}", requests // rounds)
            async with httpx.AsyncClient() as client:
                for _ in range(20):
                    started = time.perf_counter()
                    await client.get(f"http://127.0.0.1:{ports['hardening+monitoring on']}/metrics")
                    scrape_ms.append((time.perf_counter() - started) * 1000)
    print(f"   {'server':<26} {'P50 ms':>8} {'P95 ms':>8} {'mean ms':>8}")
    for label, values in results.items():
        print(f"   {label:<26} {pct(values, 50):8.1f} {pct(values, 95):8.1f} {statistics.mean(values):8.1f}")
    on, off = results["hardening+monitoring on"], results["hardening+monitoring off"]
    print(f"   ratio on/off: P50 {pct(on, 50) / pct(off, 50):.2f}x   P95 {pct(on, 95) / pct(off, 95):.2f}x")
    print(f"4. /metrics scrape after the traffic: P50 {pct(scrape_ms, 50):.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis", default=None, help="Redis URL for the Lua limiter (default: in-process)")
    parser.add_argument("--requests", type=int, default=400, help="chat requests per server")
    args = parser.parse_args()
    await bench_limiter(args.redis)
    bench_filter()
    await bench_server(args.requests)


if __name__ == "__main__":
    asyncio.run(main())
