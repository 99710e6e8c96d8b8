"""The baseline history store: the same schema, used the way lagging backends use it.

Every call runs a blocking driver (sqlite3 / psycopg) right inside the ``async``
method, so the event loop stalls for the whole round trip; each append is its own
transaction; message pages are cut out of the full history read into memory. It is
correct (same contract, same durability, cold conversations still readable), just slow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine

from reference_server.storage import operations
from reference_server.storage.archiver import PeriodicArchiver
from reference_server.storage.base import Conversation, Message, Page, Summary, UnknownConversation
from reference_server.storage.cursors import CursorCodec
from reference_server.storage.engines import blocking_url, create_blocking
from reference_server.storage.migrations import migrate
from reference_server.storage.pages import Pager
from reference_server.storage.records import StoredMessage
from reference_server.storage.retries import retry_blocking
from reference_server.storage.sql_store import (
    ARCHIVE_BATCH,
    check_messages,
    new_conversation,
    stored_or_raise,
)

T = TypeVar("T")


class BlockingSqlStore:
    """``ChatStore`` on a blocking engine: synchronous writes and full-history reads."""

    def __init__(
        self,
        database_url: str,
        *,
        secret: str,
        page_max: int = 50,
        cold_after_days: float = 7.0,
        pool_size: int = 10,
        retry_window_s: float = 15.0,
        archive_every_s: float | None = None,
    ) -> None:
        blocking_url(database_url)  # refuse an unsupported URL now, not at start-up
        self.database_url = database_url
        self.pager = Pager(CursorCodec(secret), page_max)
        self.cold_after = timedelta(days=cold_after_days)
        self.retry_window_s = retry_window_s
        self._pool_size = pool_size
        self.archiver = PeriodicArchiver(self.archive_idle, archive_every_s) if archive_every_s else None
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the history store is not started; await start() first")
        return self._engine

    async def start(self) -> None:
        self._engine = create_blocking(self.database_url, self._pool_size)
        retry_blocking(self._migrate, self.retry_window_s)
        if self.archiver is not None:
            self.archiver.start()

    async def close(self) -> None:
        if self.archiver is not None:
            await self.archiver.stop()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _migrate(self) -> None:
        with self.engine.connect() as connection:
            migrate(connection.execution_options(isolation_level="AUTOCOMMIT"))

    def _read(self, operation: Callable[..., T], *args: Any) -> T:
        def attempt() -> T:
            with self.engine.connect() as connection:
                return operation(connection, *args)

        return retry_blocking(attempt, self.retry_window_s)

    def _transaction(self, operation: Callable[..., T], *args: Any) -> T:
        def attempt() -> T:
            with self.engine.begin() as connection:
                return operation(connection, *args)

        return retry_blocking(attempt, self.retry_window_s)

    async def create_conversation(self, user_id: str, title: str) -> Conversation:
        conversation = new_conversation(user_id, title)
        self._transaction(operations.insert_conversation, conversation)
        return conversation

    async def get_conversation(self, conversation_id: str, user_id: str) -> Conversation | None:
        return self._read(operations.select_conversation, conversation_id, user_id)

    async def list_conversations(self, user_id: str, cursor: str | None, limit: int) -> Page[Conversation]:
        self.pager.check_limit(limit)
        after = self.pager.conversation_position(user_id, cursor)
        rows = self._read(operations.select_conversations, user_id, after, limit + 1)
        return self.pager.conversation_page(user_id, rows, limit)

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        await self.append_stored(conversation_id, messages)

    async def append_stored(self, conversation_id: str, messages: list[Message]) -> list[StoredMessage]:
        """Append in one blocking transaction; the messages inserted now with their sequence numbers."""
        check_messages(conversation_id, messages)
        if not messages:
            return []
        result = self._transaction(
            operations.write_messages, [(conversation_id, messages)], datetime.now(UTC)
        )
        return stored_or_raise(conversation_id, messages, result)

    async def stored_page(self, conversation_id: str, before: str | None, limit: int) -> list[StoredMessage]:
        """Up to ``limit`` messages older than cursor ``before``, newest first, cut from the full history."""
        position = self.pager.message_position(conversation_id, before)
        everything = self._read(operations.select_all_messages, conversation_id)
        return operations.page_of(everything, position, limit)

    async def list_messages(self, conversation_id: str, before: str | None, limit: int) -> Page[Message]:
        self.pager.check_limit(limit)
        rows = await self.stored_page(conversation_id, before, limit + 1)
        return self.pager.message_page(conversation_id, rows, limit)

    async def recent_messages(self, conversation_id: str, limit: int) -> list[Message]:
        everything = self._read(operations.select_all_messages, conversation_id)
        return [row.message for row in everything[-limit:]] if limit > 0 else []

    async def all_messages(self, conversation_id: str) -> list[Message]:
        return [row.message for row in self._read(operations.select_all_messages, conversation_id)]

    async def count_messages(self, conversation_id: str) -> int:
        return self._read(operations.count_messages, conversation_id)

    async def get_summary(self, conversation_id: str) -> Summary | None:
        return self._read(operations.select_summary, conversation_id)

    async def set_summary(self, conversation_id: str, text: str, message_count: int) -> None:
        if not self._transaction(
            operations.update_summary, conversation_id, text, message_count, datetime.now(UTC)
        ):
            raise UnknownConversation(f"conversation {conversation_id!r} does not exist")

    async def archive_idle(self, now: datetime) -> int:
        cutoff = now - self.cold_after
        moved = 0
        for conversation_id in self._read(operations.select_idle, cutoff, ARCHIVE_BATCH):
            if self._transaction(operations.archive_conversation, conversation_id, cutoff, now):
                moved += 1
        return moved
