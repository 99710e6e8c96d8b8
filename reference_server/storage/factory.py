"""Choose the history store from the server settings.

- ``async_io`` off: the baseline's blocking store (sync driver inside the request path).
- ``async_io`` on: the async store on a pooled engine; with ``tiered_storage`` its
  appends are batched (group commit by ``write_batch_size`` / ``write_batch_ms``).
- ``tiered_storage`` on and Redis given (``redis`` or ``redis_url``): a hot tier of the
  last ``hot_tier_messages`` messages of active conversations in front of either.

With ``tiered_storage`` on, the store also runs the cold-tier job every
``ARCHIVE_EVERY_S``: conversations idle longer than ``cold_after_days`` move to the
compressed archive. Every store reads archived conversations back transparently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reference_server.settings import ServerSettings
from reference_server.storage.base import ChatStore
from reference_server.storage.blocking_store import BlockingSqlStore
from reference_server.storage.hot_tier import RedisHotTier
from reference_server.storage.sql_store import SqlChatStore
from reference_server.storage.tiered_store import TieredChatStore, WarmStore

if TYPE_CHECKING:
    import redis.asyncio

#: Redis calls of the hot tier give up after this long and fall back to SQL.
HOT_TIER_TIMEOUT_S = 0.25
#: How often a tiered store moves idle conversations to the cold archive.
ARCHIVE_EVERY_S = 3600.0


def build_store(settings: ServerSettings, redis: redis.asyncio.Redis | None = None) -> ChatStore:
    """The ``ChatStore`` the settings ask for (not started: the caller awaits ``start()``).

    A ``redis`` client passed in stays the caller's; one built from ``redis_url`` is
    closed with the store.
    """
    warm: WarmStore
    archive_every_s = ARCHIVE_EVERY_S if settings.tiered_storage else None
    if settings.async_io:
        warm = SqlChatStore(
            settings.database_url,
            secret=settings.secret,
            page_max=settings.history_page_max,
            cold_after_days=settings.cold_after_days,
            batch_writes=settings.tiered_storage,
            batch_size=settings.write_batch_size,
            batch_ms=settings.write_batch_ms,
            archive_every_s=archive_every_s,
        )
    else:
        warm = BlockingSqlStore(
            settings.database_url,
            secret=settings.secret,
            page_max=settings.history_page_max,
            cold_after_days=settings.cold_after_days,
            archive_every_s=archive_every_s,
        )
    if not settings.tiered_storage or (redis is None and settings.redis_url is None):
        return warm
    owns_redis = redis is None
    if redis is None:
        import redis.asyncio as aioredis

        redis = aioredis.Redis.from_url(
            settings.redis_url, socket_timeout=HOT_TIER_TIMEOUT_S, socket_connect_timeout=HOT_TIER_TIMEOUT_S
        )
    hot = RedisHotTier(redis, capacity=settings.hot_tier_messages)
    return TieredChatStore(warm, hot, redis_timeout_s=HOT_TIER_TIMEOUT_S, owns_redis=owns_redis)
