"""Exact-layer answer stores: one interface, a bounded in-process LRU and Redis.

Both keep :class:`CachedAnswer` records under a key with a TTL and delete by key or by
key prefix (a scope's readable prefix invalidates a whole tenant). An *alias* maps the key
of a paraphrase that once hit semantically to the answer's own key, so the next identical
ask is an exact hit without an embedding; it dies with the answer it points to.
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

    async def resolve(self, key: str) -> tuple[str, CachedAnswer] | None:
        """The answer under ``key`` or under the key its alias points to, with that key."""

    async def set(self, key: str, answer: CachedAnswer, ttl_s: int) -> None: ...

    async def set_alias(self, key: str, target: str, ttl_s: int) -> None: ...

    async def delete(self, key: str) -> bool:
        """Delete the answer (and any alias) stored under ``key``; True if an answer was there."""

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; returns how many."""

    async def close(self) -> None: ...


class MemoryExactStore:
    """A bounded in-process LRU with per-entry expiry (the default; one process only)."""

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, CachedAnswer]] = OrderedDict()
        self._aliases: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, table: OrderedDict, key: str):
        item = table.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del table[key]
            return None
        table.move_to_end(key)
        return item[1]

    async def get(self, key: str) -> CachedAnswer | None:
        return self._live(self._entries, key)

    async def resolve(self, key: str) -> tuple[str, CachedAnswer] | None:
        answer = self._live(self._entries, key)
        if answer is not None:
            return key, answer
        target = self._live(self._aliases, key)
        answer = self._live(self._entries, target) if target is not None else None
        return (target, answer) if answer is not None else None

    async def set(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        self._store(self._entries, key, answer, ttl_s)

    async def set_alias(self, key: str, target: str, ttl_s: int) -> None:
        self._store(self._aliases, key, target, ttl_s)

    def _store(self, table: OrderedDict, key: str, value: object, ttl_s: int) -> None:
        table[key] = (self._clock() + ttl_s, value)
        table.move_to_end(key)
        while len(table) > self.max_entries:
            table.popitem(last=False)

    async def delete(self, key: str) -> bool:
        self._aliases.pop(key, None)
        return self._entries.pop(key, None) is not None

    async def delete_prefix(self, prefix: str) -> int:
        for key in [key for key in self._aliases if key.startswith(prefix)]:
            del self._aliases[key]
        doomed = [key for key in self._entries if key.startswith(prefix)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    async def close(self) -> None:
        self._entries.clear()
        self._aliases.clear()


class RedisExactStore:
    """Answers in Redis (``SET key json PX ttl``): shared by every instance, survives restarts."""

    def __init__(self, client, key_prefix: str = "chatopt:cache:") -> None:
        self._redis = client
        self._answers = f"{key_prefix}x:"
        self._aliases = f"{key_prefix}a:"

    async def get(self, key: str) -> CachedAnswer | None:
        raw = await self._redis.get(self._answers + key)
        return CachedAnswer.from_json(raw) if raw is not None else None

    async def resolve(self, key: str) -> tuple[str, CachedAnswer] | None:
        raw, target = await self._redis.mget(self._answers + key, self._aliases + key)
        if raw is not None:
            return key, CachedAnswer.from_json(raw)
        if target is None:
            return None
        target = target.decode() if isinstance(target, bytes) else target
        answer = await self.get(target)
        return (target, answer) if answer is not None else None

    async def set(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        await self._redis.set(self._answers + key, answer.to_json(), px=int(ttl_s * 1000))

    async def set_alias(self, key: str, target: str, ttl_s: int) -> None:
        await self._redis.set(self._aliases + key, target, px=int(ttl_s * 1000))

    async def delete(self, key: str) -> bool:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(self._answers + key)
            pipe.delete(self._aliases + key)
            answers, _ = await pipe.execute()
        return bool(answers)

    async def delete_prefix(self, prefix: str) -> int:
        await self._delete_matching(self._aliases + prefix)
        return await self._delete_matching(self._answers + prefix)

    async def _delete_matching(self, prefix: str) -> int:
        deleted = 0
        batch: list[str] = []
        async for name in self._redis.scan_iter(match=_glob_escape(prefix) + "*", count=1000):
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
