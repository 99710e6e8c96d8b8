"""Sliding-window rate limits: exact in Redis (one atomic Lua script), in-process fallback.

A window is a log of admitted hits (a Redis sorted set scored by the Redis server's own
clock, so instances with skewed clocks agree). One call checks several limits at once
(user tier + IP) and admits only when *all* of them have room, so a request rejected by
one limit never spends a slot of another.

When Redis is unreachable the limiter either fails open (keeps admitting through an
in-process window per instance: limits then hold per instance, not across instances) or
fails closed (refuses every request with ``unavailable=True`` so the server answers 503).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local counts = {}
local denied = false
for i = 1, n do
  local window = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  counts[i] = redis.call('ZCARD', KEYS[i])
  if counts[i] >= tonumber(ARGV[2 * i - 1]) then denied = true end
end
local out = {}
for i = 1, n do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local count = counts[i]
  if not denied then
    redis.call('ZADD', KEYS[i], now, ARGV[2 * n + 1])
    redis.call('PEXPIRE', KEYS[i], window)
    count = count + 1
  end
  local wait = 0
  local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  if oldest[2] then wait = tonumber(oldest[2]) + window - now end
  out[i] = {count, wait}
end
if denied then return {0, out} end
return {1, out}
"""


@dataclass(frozen=True)
class RateLimitPolicy:
    """At most ``limit`` hits per sliding ``window_s`` seconds, named for the headers."""

    name: str
    limit: int
    window_s: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s <= 0:
            raise ValueError(f"rate limit {self.name!r} needs limit >= 1 and window_s > 0")


@dataclass(frozen=True)
class RateLimitCheck:
    """One limit applied to one subject, e.g. the free tier for ``user:42``."""

    policy: RateLimitPolicy
    subject: str


@dataclass(frozen=True)
class LimitState:
    """Where one subject stands in one window after a call."""

    policy: RateLimitPolicy
    used: int
    reset_s: float

    @property
    def remaining(self) -> int:
        return max(0, self.policy.limit - self.used)


@dataclass(frozen=True)
class RateDecision:
    """The answer to one ``hit``: admitted or not, and what to tell the client."""

    allowed: bool
    states: tuple[LimitState, ...]
    retry_after_s: float = 0.0
    degraded: bool = False
    unavailable: bool = False

    @property
    def tightest(self) -> LimitState:
        """The limit closest to (or over) its cap: the one the headers describe."""
        return min(self.states, key=lambda s: (s.remaining, -s.reset_s))

    def headers(self) -> dict[str, str]:
        """``RateLimit-Policy`` / ``RateLimit`` (IETF httpapi draft) and ``Retry-After`` when denied."""
        if not self.states:
            return {"Retry-After": str(max(1, math.ceil(self.retry_after_s)))} if not self.allowed else {}
        policies = ", ".join(
            f'"{s.policy.name}";q={s.policy.limit};w={math.ceil(s.policy.window_s)}' for s in self.states
        )
        tight = self.tightest
        headers = {
            "RateLimit-Policy": policies,
            "RateLimit": f'"{tight.policy.name}";r={tight.remaining};t={max(0, math.ceil(tight.reset_s))}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_s)))
        return headers


class LocalWindows:
    """In-process sliding windows, bounded: least recently used subjects are dropped past ``max_keys``."""

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._windows: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def hit(self, checks: list[tuple[str, RateLimitPolicy]]) -> tuple[bool, list[tuple[int, float]]]:
        """Admit when every window has room; returns (admitted, [(used, reset_s)...])."""
        now = self.clock()
        windows = []
        for key, policy in checks:
            window = self._windows.pop(key, None) or deque()
            while window and window[0] <= now - policy.window_s:
                window.popleft()
            self._windows[key] = window
            windows.append(window)
        allowed = all(len(w) < p.limit for w, (_, p) in zip(windows, checks, strict=True))
        out = []
        for window, (_, policy) in zip(windows, checks, strict=True):
            if allowed:
                window.append(now)
            reset = window[0] + policy.window_s - now if window else 0.0
            out.append((len(window), reset))
        while len(self._windows) > self.max_keys:
            self._windows.popitem(last=False)
        return allowed, out


class SlidingWindowLimiter:
    """Check-and-count several limits atomically; Redis when given, else in-process.

    ``redis`` is a ``redis.asyncio.Redis`` (or None for single-instance, in-process limits).
    Once Redis fails, the limiter waits ``redis_retry_s`` before trying it again, so a
    dead Redis costs one timeout per period, not one per request. ``redis_timeout_s`` is
    generous on purpose: it is wall time, event-loop queueing included, and a busy but
    healthy Redis must not be mistaken for a dead one (that would loosen the limits).
    """

    def __init__(
        self,
        redis: Any | None = None,
        *,
        prefix: str = "chatopt:ratelimit:",
        fail_open: bool = True,
        redis_timeout_s: float = 2.0,
        redis_retry_s: float = 5.0,
        local_max_keys: int = 100_000,
        on_redis_error: Callable[[BaseException], Awaitable[None] | None] | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.fail_open = fail_open
        self.redis_timeout_s = redis_timeout_s
        self.redis_retry_s = redis_retry_s
        self.local = LocalWindows(local_max_keys)
        self.on_redis_error = on_redis_error
        self._script = redis.register_script(_SLIDING_WINDOW_LUA) if redis is not None else None
        self._redis_down_until = 0.0

    @property
    def redis_healthy(self) -> bool:
        """False while the limiter is in its back-off after a Redis failure."""
        return self.redis is not None and time.monotonic() >= self._redis_down_until

    async def hit(self, *checks: RateLimitCheck) -> RateDecision:
        """Count one hit against every check if all have room; otherwise count nothing."""
        if not checks:
            return RateDecision(allowed=True, states=())
        keyed = [(f"{self.prefix}{c.policy.name}:{c.subject}", c.policy) for c in checks]
        if self._script is not None and time.monotonic() >= self._redis_down_until:
            try:
                async with asyncio.timeout(self.redis_timeout_s):
                    return await self._hit_redis(keyed)
            except Exception as exc:  # any Redis failure (timeout, refused, script error) degrades
                await self._redis_failed(exc)
        if self._script is not None and not self.fail_open:
            retry = max(1.0, self._redis_down_until - time.monotonic())
            return RateDecision(
                allowed=False, states=(), retry_after_s=retry, degraded=True, unavailable=True
            )
        allowed, results = self.local.hit(keyed)
        return self._decision(allowed, keyed, results, degraded=self._script is not None)

    async def _hit_redis(self, keyed: list[tuple[str, RateLimitPolicy]]) -> RateDecision:
        args: list[Any] = []
        for _, policy in keyed:
            args += [policy.limit, int(policy.window_s * 1000)]
        args.append(uuid.uuid4().hex)
        allowed, rows = await self._script(keys=[k for k, _ in keyed], args=args)
        results = [(int(used), int(wait_ms) / 1000) for used, wait_ms in rows]
        return self._decision(bool(allowed), keyed, results, degraded=False)

    async def _redis_failed(self, exc: BaseException) -> None:
        self._redis_down_until = time.monotonic() + self.redis_retry_s
        log.warning("rate limiter: Redis unreachable (%s); %s", type(exc).__name__,
                    "admitting through in-process windows" if self.fail_open else "refusing requests")
        if self.on_redis_error is not None:
            outcome = self.on_redis_error(exc)
            if outcome is not None:
                await outcome

    @staticmethod
    def _decision(
        allowed: bool,
        keyed: list[tuple[str, RateLimitPolicy]],
        results: list[tuple[int, float]],
        *,
        degraded: bool,
    ) -> RateDecision:
        states = tuple(
            LimitState(policy=policy, used=used, reset_s=reset)
            for (_, policy), (used, reset) in zip(keyed, results, strict=True)
        )
        retry = 0.0
        if not allowed:
            retry = max(s.reset_s for s in states if s.used >= s.policy.limit)
        return RateDecision(allowed=allowed, states=states, retry_after_s=retry, degraded=degraded)


def tier_policy(tier: str, *, free_per_hour: int, premium_per_hour: int) -> RateLimitPolicy:
    """The per-user policy of a tier (unknown tiers get the free limit)."""
    if tier == "premium":
        return RateLimitPolicy("premium", premium_per_hour, 3600.0)
    return RateLimitPolicy("free", free_per_hour, 3600.0)


def ip_policy(per_hour: int) -> RateLimitPolicy:
    """The per-client-IP policy."""
    return RateLimitPolicy("ip", per_hour, 3600.0)
