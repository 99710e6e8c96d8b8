"""Hot tier in front of the SQL store: recent history from Redis, SQL as the truth.

Writes commit to SQL first and are written through to Redis only afterwards, so an
acknowledged message never depends on Redis. Reads of the newest page come from
Redis when it has a valid copy and fill it from SQL on a miss. When Redis fails
(down, killed, slow) every call falls back to SQL at once and Redis is left alone
for a short back-off; a conversation whose write-through failed has its Redis copy
dropped before this process uses Redis again, so it never serves a copy that missed a
write. (With several server processes, another process could serve such a copy between
Redis coming back and the next Redis call of the process whose write failed: the
window is one request of that process, and the copy only lacks the newest messages.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from redis.exceptions import RedisError

from reference_server.storage.base import ChatStore, Conversation, Message, Page, Summary
from reference_server.storage.hot_tier import HotCopy, RedisHotTier
from reference_server.storage.pages import Pager
from reference_server.storage.records import StoredMessage

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: Errors that mean "Redis is not usable right now".
REDIS_FAILURES = (RedisError, OSError, TimeoutError, asyncio.TimeoutError)


class WarmStore(ChatStore, Protocol):
    """What the hot tier needs from the SQL store behind it."""

    pager: Pager

    async def append_stored(self, conversation_id: str, messages: list[Message]) -> list[StoredMessage]: ...

    async def stored_page(
        self, conversation_id: str, before: str | None, limit: int
    ) -> list[StoredMessage]: ...


class TieredChatStore:
    """``ChatStore`` with recent messages of active conversations served from Redis."""

    def __init__(
        self,
        warm: WarmStore,
        hot: RedisHotTier,
        *,
        redis_timeout_s: float = 0.25,
        backoff_s: float = 1.0,
        owns_redis: bool = False,
    ) -> None:
        self.warm = warm
        self.hot = hot
        self.redis_timeout_s = redis_timeout_s
        self.backoff_s = backoff_s
        self._owns_redis = owns_redis
        self._redis_down_until = 0.0
        self._stale: set[str] = set()
        self.hot_hits = 0
        self.hot_misses = 0

    async def start(self) -> None:
        await self.warm.start()

    async def close(self) -> None:
        await self.warm.close()
        if self._owns_redis:
            await self.hot.redis.aclose()

    # --- Redis guard -----------------------------------------------------------------------

    @property
    def redis_available(self) -> bool:
        """False while backing off after a Redis failure."""
        return time.monotonic() >= self._redis_down_until

    async def _redis(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """The call's result, or None when Redis failed (then it is skipped for a while)."""
        if not self.redis_available:
            return None
        try:
            if self._stale:
                stale = sorted(self._stale)
                await asyncio.wait_for(self.hot.forget(stale), self.redis_timeout_s)
                self._stale.difference_update(stale)
            return await asyncio.wait_for(call(), self.redis_timeout_s)
        except REDIS_FAILURES as error:
            logger.warning("hot tier unavailable, serving from SQL: %s", error)
            self._redis_down_until = time.monotonic() + self.backoff_s
            return None

    # --- conversations ---------------------------------------------------------------------

    async def create_conversation(self, user_id: str, title: str) -> Conversation:
        conversation = await self.warm.create_conversation(user_id, title)
        await self._redis(lambda: self.hot.fill(conversation.id, "0", conversation, [], complete=True))
        return conversation

    async def get_conversation(self, conversation_id: str, user_id: str) -> Conversation | None:
        cached = await self._redis(lambda: self.hot.conversation(conversation_id))
        if cached is not None:
            self.hot_hits += 1
            return cached if cached.user_id == user_id else None
        self.hot_misses += 1
        conversation = await self.warm.get_conversation(conversation_id, user_id)
        if conversation is not None and self.redis_available:
            await self._redis(lambda: self.hot.remember(conversation))
        return conversation

    async def list_conversations(self, user_id: str, cursor: str | None, limit: int) -> Page[Conversation]:
        return await self.warm.list_conversations(user_id, cursor, limit)

    # --- messages --------------------------------------------------------------------------

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        stored = await self.warm.append_stored(conversation_id, messages)
        if not messages:
            return
        if len(stored) < len(messages):
            # Some ids were stored already: a repeat, or a retry whose first commit did land and
            # was never written through. The copy cannot be patched reliably; drop it.
            self._stale.add(conversation_id)
            await self._redis(lambda: self.hot.forget([conversation_id]))
            return
        written = await self._redis(lambda: self.hot.append(conversation_id, stored, datetime.now(UTC)))
        if written is None:
            self._stale.add(conversation_id)

    async def _newest(self, conversation_id: str, limit: int) -> tuple[list[StoredMessage], bool]:
        """The newest ``limit`` messages (newest first) and whether older ones exist, hot when possible."""
        copy: HotCopy | None = await self._redis(lambda: self.hot.read(conversation_id))
        if copy is not None and copy.filled:
            cached = copy.newest_first()
            if copy.complete or len(cached) >= limit:
                self.hot_hits += 1
                return cached[:limit], len(cached) > limit or not copy.complete
        self.hot_misses += 1
        fetch = max(limit, self.hot.capacity) + 1
        rows = await self.warm.stored_page(conversation_id, None, fetch)
        if copy is not None:
            complete = len(rows) <= self.hot.capacity
            await self._redis(lambda: self.hot.fill(conversation_id, copy.gen, None, rows, complete=complete))
        return rows[:limit], len(rows) > limit

    async def list_messages(self, conversation_id: str, before: str | None, limit: int) -> Page[Message]:
        if before is not None or limit > self.hot.capacity:
            return await self.warm.list_messages(conversation_id, before, limit)
        self.warm.pager.check_limit(limit)
        items, has_more = await self._newest(conversation_id, limit)
        return self.warm.pager.page_of_messages(conversation_id, items, has_more)

    async def recent_messages(self, conversation_id: str, limit: int) -> list[Message]:
        if limit <= 0 or limit > self.hot.capacity:
            return await self.warm.recent_messages(conversation_id, limit)
        items, _ = await self._newest(conversation_id, limit)
        return [item.message for item in reversed(items)]

    async def all_messages(self, conversation_id: str) -> list[Message]:
        return await self.warm.all_messages(conversation_id)

    async def count_messages(self, conversation_id: str) -> int:
        cached = await self._redis(lambda: self.hot.count(conversation_id))
        if cached is not None and cached[1] is not None:
            self.hot_hits += 1
            return cached[1]
        self.hot_misses += 1
        count = await self.warm.count_messages(conversation_id)
        if cached is not None:
            seen_gen = cached[0]
            await self._redis(lambda: self.hot.remember_count(conversation_id, seen_gen, count))
        return count

    async def get_summary(self, conversation_id: str) -> Summary | None:
        cached = await self._redis(lambda: self.hot.summary(conversation_id))
        if cached is not None and cached[0]:
            self.hot_hits += 1
            return cached[1]
        self.hot_misses += 1
        summary = await self.warm.get_summary(conversation_id)
        if self.redis_available:
            await self._redis(lambda: self.hot.remember_summary(conversation_id, summary))
        return summary

    async def set_summary(self, conversation_id: str, text: str, message_count: int) -> None:
        await self.warm.set_summary(conversation_id, text, message_count)
        # Cache exactly what SQL now holds, its timestamp included.
        summary = await self.warm.get_summary(conversation_id)
        if await self._redis(lambda: self.hot.remember_summary(conversation_id, summary)) is None:
            self._stale.add(conversation_id)

    async def archive_idle(self, now: datetime) -> int:
        return await self.warm.archive_idle(now)
