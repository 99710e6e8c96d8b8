"""The async SQL history store (warm tier + cold archive) on SQLite or PostgreSQL.

SQLAlchemy 2 Core on an async engine (aiosqlite / asyncpg) with a connection pool.
Appends go through a group-commit buffer when batching is on, and return only once
committed either way. Transient database failures (a dropped connection, a restarting
server) are retried for ``retry_window_s``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from reference_server.storage import operations
from reference_server.storage.archiver import PeriodicArchiver
from reference_server.storage.base import Conversation, Message, Page, Summary, UnknownConversation
from reference_server.storage.cursors import CursorCodec
from reference_server.storage.engines import async_url, create_async
from reference_server.storage.migrations import migrate
from reference_server.storage.operations import WriteResult
from reference_server.storage.pages import Pager
from reference_server.storage.records import StoredMessage
from reference_server.storage.retries import retry_async
from reference_server.storage.write_buffer import GroupCommitBuffer

T = TypeVar("T")

#: Conversations moved per ``archive_idle`` call, so one run of the job stays short.
ARCHIVE_BATCH = 200


def check_messages(conversation_id: str, messages: list[Message]) -> None:
    """Every message must belong to the conversation it is appended to."""
    strays = [message.id for message in messages if message.conversation_id != conversation_id]
    if strays:
        raise ValueError(f"messages {strays} belong to another conversation than {conversation_id!r}")


def stored_or_raise(
    conversation_id: str, messages: list[Message], result: WriteResult
) -> list[StoredMessage]:
    """The messages inserted now, with their sequence numbers (ids stored before are left out).

    ``UnknownConversation`` when the conversation does not exist.
    """
    if conversation_id in result.unknown:
        raise UnknownConversation(f"conversation {conversation_id!r} does not exist")
    return result.inserted(messages)


def new_conversation(user_id: str, title: str) -> Conversation:
    now = datetime.now(UTC)
    return Conversation(uuid.uuid4().hex, user_id, title, now, now)


class SqlChatStore:
    """Async ``ChatStore`` over SQLAlchemy Core; cold conversations are read back transparently."""

    def __init__(
        self,
        database_url: str,
        *,
        secret: str,
        page_max: int = 50,
        cold_after_days: float = 7.0,
        batch_writes: bool = True,
        batch_size: int = 64,
        batch_ms: float = 5.0,
        pool_size: int = 10,
        retry_window_s: float = 15.0,
        archive_every_s: float | None = None,
    ) -> None:
        async_url(database_url)  # refuse an unsupported URL now, not at start-up
        self.database_url = database_url
        self.pager = Pager(CursorCodec(secret), page_max)
        self.cold_after = timedelta(days=cold_after_days)
        self.retry_window_s = retry_window_s
        self._pool_size = pool_size
        self.archiver = PeriodicArchiver(self.archive_idle, archive_every_s) if archive_every_s else None
        self._engine: AsyncEngine | None = None
        self._buffer = (
            GroupCommitBuffer(
                self._write_batch,
                max_messages=batch_size,
                max_delay_s=batch_ms / 1000,
                max_queued_appends=batch_size * 8,
            )
            if batch_writes
            else None
        )

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the history store is not started; await start() first")
        return self._engine

    async def start(self) -> None:
        self._engine = create_async(self.database_url, self._pool_size)
        await retry_async(self._migrate, self.retry_window_s)
        if self._buffer is not None:
            self._buffer.start()
        if self.archiver is not None:
            self.archiver.start()

    async def close(self) -> None:
        if self.archiver is not None:
            await self.archiver.stop()
        if self._buffer is not None:
            await self._buffer.close()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _migrate(self) -> None:
        async with self.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.run_sync(migrate)

    async def _read(self, operation: Callable[..., T], *args: Any) -> T:
        async def attempt() -> T:
            async with self.engine.connect() as connection:
                return await connection.run_sync(operation, *args)

        return await retry_async(attempt, self.retry_window_s)

    async def _transaction(self, operation: Callable[..., T], *args: Any) -> T:
        async def attempt() -> T:
            async with self.engine.begin() as connection:
                return await connection.run_sync(operation, *args)

        return await retry_async(attempt, self.retry_window_s)

    # --- conversations ---------------------------------------------------------------------

    async def create_conversation(self, user_id: str, title: str) -> Conversation:
        conversation = new_conversation(user_id, title)
        await self._transaction(operations.insert_conversation, conversation)
        return conversation

    async def get_conversation(self, conversation_id: str, user_id: str) -> Conversation | None:
        return await self._read(operations.select_conversation, conversation_id, user_id)

    async def list_conversations(self, user_id: str, cursor: str | None, limit: int) -> Page[Conversation]:
        self.pager.check_limit(limit)
        after = self.pager.conversation_position(user_id, cursor)
        rows = await self._read(operations.select_conversations, user_id, after, limit + 1)
        return self.pager.conversation_page(user_id, rows, limit)

    # --- messages --------------------------------------------------------------------------

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        await self.append_stored(conversation_id, messages)

    async def append_stored(self, conversation_id: str, messages: list[Message]) -> list[StoredMessage]:
        """Append durably; the messages inserted now with their sequence numbers (repeats left out)."""
        check_messages(conversation_id, messages)
        if not messages:
            return []
        if self._buffer is not None:
            return await self._buffer.submit(conversation_id, messages)
        result = await self._write_batch([(conversation_id, messages)])
        return stored_or_raise(conversation_id, messages, result)

    async def _write_batch(self, batch: Sequence[tuple[str, Sequence[Message]]]) -> WriteResult:
        return await self._transaction(operations.write_messages, batch, datetime.now(UTC))

    async def stored_page(self, conversation_id: str, before: str | None, limit: int) -> list[StoredMessage]:
        """Up to ``limit`` rows older than cursor ``before``, newest first, with sequence numbers."""
        position = self.pager.message_position(conversation_id, before)
        return await self._read(operations.select_messages_page, conversation_id, position, limit)

    async def list_messages(self, conversation_id: str, before: str | None, limit: int) -> Page[Message]:
        self.pager.check_limit(limit)
        rows = await self.stored_page(conversation_id, before, limit + 1)
        return self.pager.message_page(conversation_id, rows, limit)

    async def recent_messages(self, conversation_id: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        rows = await self.stored_page(conversation_id, None, limit)
        return [row.message for row in reversed(rows)]

    async def all_messages(self, conversation_id: str) -> list[Message]:
        rows = await self._read(operations.select_all_messages, conversation_id)
        return [row.message for row in rows]

    async def count_messages(self, conversation_id: str) -> int:
        return await self._read(operations.count_messages, conversation_id)

    # --- running summary -------------------------------------------------------------------

    async def get_summary(self, conversation_id: str) -> Summary | None:
        return await self._read(operations.select_summary, conversation_id)

    async def set_summary(self, conversation_id: str, text: str, message_count: int) -> None:
        found = await self._transaction(
            operations.update_summary, conversation_id, text, message_count, datetime.now(UTC)
        )
        if not found:
            raise UnknownConversation(f"conversation {conversation_id!r} does not exist")

    # --- cold tier -------------------------------------------------------------------------

    async def archive_idle(self, now: datetime) -> int:
        cutoff = now - self.cold_after
        moved = 0
        for conversation_id in await self._read(operations.select_idle, cutoff, ARCHIVE_BATCH):
            if await self._transaction(operations.archive_conversation, conversation_id, cutoff, now):
                moved += 1
        return moved
