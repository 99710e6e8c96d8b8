"""Sliding-window limiter: exact across instances on the real Redis, tiers, IP, headers, Redis loss."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from reference_server.security.ratelimit import (
    LocalWindows,
    RateLimitCheck,
    RateLimitPolicy,
    SlidingWindowLimiter,
    ip_policy,
    tier_policy,
)
from tests.services import free_port

pytestmark = pytest.mark.services


async def test_two_instances_admit_exactly_the_limit_under_200_concurrent_clients(redis_url, redis_prefix):
    clients = [aioredis.Redis.from_url(redis_url, max_connections=100) for _ in range(2)]
    limiters = [SlidingWindowLimiter(c, prefix=redis_prefix, redis_timeout_s=10) for c in clients]
    policy = RateLimitPolicy("free", 37, 3600)
    try:
        decisions = await asyncio.gather(
            *(limiters[i % 2].hit(RateLimitCheck(policy, "user:shared")) for i in range(200))
        )
    finally:
        for c in clients:
            await c.aclose()
    admitted = [d for d in decisions if d.allowed]
    assert len(admitted) == policy.limit
    assert not any(d.degraded for d in decisions)
    denied = [d for d in decisions if not d.allowed]
    assert all(d.retry_after_s > 0 and d.headers()["Retry-After"] for d in denied)


async def test_tiers_have_their_own_limits(redis_client, redis_prefix):
    limiter = SlidingWindowLimiter(redis_client, prefix=redis_prefix)
    free = tier_policy("free", free_per_hour=3, premium_per_hour=6)
    premium = tier_policy("premium", free_per_hour=3, premium_per_hour=6)
    assert tier_policy("unknown", free_per_hour=3, premium_per_hour=6) == free
    free_results = [(await limiter.hit(RateLimitCheck(free, "user:a"))).allowed for _ in range(8)]
    premium_results = [(await limiter.hit(RateLimitCheck(premium, "user:b"))).allowed for _ in range(8)]
    assert free_results.count(True) == 3 and free_results[:3] == [True] * 3
    assert premium_results.count(True) == 6 and premium_results[:6] == [True] * 6


async def test_ip_limit_denial_spends_no_user_slot(redis_client, redis_prefix):
    limiter = SlidingWindowLimiter(redis_client, prefix=redis_prefix)
    user = RateLimitPolicy("free", 5, 3600)
    ip = ip_policy(2)
    results = [
        await limiter.hit(RateLimitCheck(user, "user:c"), RateLimitCheck(ip, "ip:10.0.0.1")) for _ in range(4)
    ]
    assert [r.allowed for r in results] == [True, True, False, False]
    assert results[-1].tightest.policy.name == "ip"
    # Only the 2 admitted hits counted for the user: from another address 3 slots are left.
    other = [
        await limiter.hit(RateLimitCheck(user, "user:c"), RateLimitCheck(ip, "ip:10.0.0.2")) for _ in range(4)
    ]
    assert [r.allowed for r in other] == [True, True, False, False]
    assert other[0].states[0].remaining == 2 and other[1].states[0].remaining == 1
    assert other[2].tightest.policy.name == "ip"


async def test_headers_describe_policy_remaining_and_retry(redis_client, redis_prefix):
    limiter = SlidingWindowLimiter(redis_client, prefix=redis_prefix)
    policy = RateLimitPolicy("free", 2, 3600)
    first = await limiter.hit(RateLimitCheck(policy, "user:d"))
    assert first.headers()["RateLimit-Policy"] == '"free";q=2;w=3600'
    assert first.headers()["RateLimit"].startswith('"free";r=1;t=')
    assert "Retry-After" not in first.headers()
    await limiter.hit(RateLimitCheck(policy, "user:d"))
    denied = await limiter.hit(RateLimitCheck(policy, "user:d"))
    headers = denied.headers()
    assert not denied.allowed
    assert headers["RateLimit"].startswith('"free";r=0;t=')
    assert 3590 <= int(headers["Retry-After"]) <= 3600


async def test_window_slides_so_old_hits_stop_counting(redis_client, redis_prefix):
    limiter = SlidingWindowLimiter(redis_client, prefix=redis_prefix)
    policy = RateLimitPolicy("burst", 2, 0.3)
    assert [(await limiter.hit(RateLimitCheck(policy, "u"))).allowed for _ in range(3)] == [True, True, False]
    await asyncio.sleep(0.4)
    assert (await limiter.hit(RateLimitCheck(policy, "u"))).allowed
    ttl = await redis_client.pttl(f"{redis_prefix}burst:u")
    assert 0 < ttl <= 300


async def test_redis_unreachable_fail_open_uses_in_process_windows():
    dead = aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    errors: list[BaseException] = []
    limiter = SlidingWindowLimiter(dead, fail_open=True, on_redis_error=errors.append)
    policy = RateLimitPolicy("free", 3, 3600)
    try:
        decisions = [await limiter.hit(RateLimitCheck(policy, "user:e")) for _ in range(5)]
    finally:
        await dead.aclose()
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert all(d.degraded for d in decisions)
    assert len(errors) == 1  # one failure, then the back-off skips Redis
    assert not limiter.redis_healthy


async def test_redis_killed_mid_run_fail_closed_refuses_then_recovers(private_redis):
    client = aioredis.Redis.from_url(private_redis.url, socket_connect_timeout=0.2, socket_timeout=0.5)
    limiter = SlidingWindowLimiter(client, fail_open=False, redis_retry_s=0.2)
    policy = RateLimitPolicy("free", 100, 3600)
    try:
        assert (await limiter.hit(RateLimitCheck(policy, "user:f"))).allowed
        private_redis.stop()
        refused = await limiter.hit(RateLimitCheck(policy, "user:f"))
        assert not refused.allowed and refused.unavailable and refused.degraded
        assert int(refused.headers()["Retry-After"]) >= 1
        private_redis.start()
        await asyncio.sleep(0.3)
        recovered = await limiter.hit(RateLimitCheck(policy, "user:f"))
    finally:
        await client.aclose()
    assert recovered.allowed and not recovered.degraded


def test_local_windows_bound_their_memory_and_slide():
    now = [0.0]
    windows = LocalWindows(max_keys=10, clock=lambda: now[0])
    policy = RateLimitPolicy("p", 2, 10)
    for i in range(100):
        windows.hit([(f"k{i}", policy)])
    assert len(windows) == 10
    assert [windows.hit([("a", policy)])[0] for _ in range(3)] == [True, True, False]
    now[0] = 10.5
    assert windows.hit([("a", policy)])[0]


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError, match="limit >= 1"):
        RateLimitPolicy("x", 0, 60)
