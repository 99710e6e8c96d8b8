"""Exact-layer answer stores: one interface, a bounded in-process LRU and Redis.

Both keep :class:`CachedAnswer` records under a key with a TTL and delete by key or by
key prefix (a scope's readable prefix invalidates a whole tenant).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from reference_server.cache.entry import CachedAnswer


class ExactStore(Protocol):
    """Key -> cached answer with TTL and prefix deletion."""

    async def get(self, key: str) -> CachedAnswer | None: ...

    async def set(self, key: str, answer: CachedAnswer, ttl_s: int) -> None: ...

    async def delete(self, key: str) -> bool: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; returns how many."""

    async def close(self) -> None: ...


class MemoryExactStore:
    """A bounded in-process LRU with per-entry expiry (the default; one process only)."""

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, CachedAnswer]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedAnswer | None:
        item = self._entries.get(key)
        if item is None:
            return None
        expires_at, answer = item
        if expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return answer

    async def set(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        self._entries[key] = (self._clock() + ttl_s, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> bool:
        return self._entries.pop(key, None) is not None

    async def delete_prefix(self, prefix: str) -> int:
        doomed = [key for key in self._entries if key.startswith(prefix)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    async def close(self) -> None:
        self._entries.clear()


class RedisExactStore:
    """Answers in Redis (``SET key json PX ttl``): shared by every instance, survives restarts."""

    def __init__(self, client, key_prefix: str = "chatopt:cache:") -> None:
        self._redis = client
        self._answers = f"{key_prefix}x:"

    async def get(self, key: str) -> CachedAnswer | None:
        raw = await self._redis.get(self._answers + key)
        return CachedAnswer.from_json(raw) if raw is not None else None

    async def set(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        await self._redis.set(self._answers + key, answer.to_json(), px=int(ttl_s * 1000))

    async def delete(self, key: str) -> bool:
        return bool(await self._redis.delete(self._answers + key))

    async def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        batch: list[str] = []
        async for name in self._redis.scan_iter(match=_glob_escape(self._answers + prefix) + "*", count=1000):
            batch.append(name)
            if len(batch) >= 500:
                deleted += await self._redis.delete(*batch)
                batch.clear()
        if batch:
            deleted += await self._redis.delete(*batch)
        return deleted

    async def close(self) -> None:
        """The Redis client belongs to the caller; nothing to release here."""


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
