"""The storage contract every history backend implements.

Handlers only talk to :class:`ChatStore`. ``append_messages`` returning means the
messages are durable (committed): the server acknowledges a message to the client
only after that, so an acknowledged message survives a crash or a DB restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Conversation:
    """A conversation owned by one user."""

    id: str
    user_id: str
    title: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Message:
    """One stored chat message; ``complete`` is False for an answer cut short."""

    id: str
    conversation_id: str
    role: str
    content: str
    created_at: datetime
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    complete: bool = True


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a cursor-paginated listing; ``next_cursor`` is None on the last page."""

    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True)
class Summary:
    """The running summary of a conversation and how many messages it covers."""

    text: str
    message_count: int
    updated_at: datetime


class InvalidCursor(ValueError):
    """A pagination cursor that this store did not issue."""


class InvalidLimit(ValueError):
    """A page size outside ``1..history_page_max``."""


class UnknownConversation(LookupError):
    """Messages were appended to a conversation that does not exist."""


class ChatStore(Protocol):
    """Async chat history: conversations, messages, cursor pagination."""

    async def start(self) -> None:
        """Open pools, run migrations."""

    async def close(self) -> None:
        """Flush pending writes and release every connection."""

    async def create_conversation(self, user_id: str, title: str) -> Conversation: ...

    async def get_conversation(self, conversation_id: str, user_id: str) -> Conversation | None:
        """The conversation if it exists and belongs to ``user_id``; else None."""

    async def list_conversations(self, user_id: str, cursor: str | None, limit: int) -> Page[Conversation]:
        """The user's conversations, most recently updated first."""

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        """Store messages durably; returns once they are committed."""

    async def list_messages(self, conversation_id: str, before: str | None, limit: int) -> Page[Message]:
        """Messages older than cursor ``before`` (newest page first), items oldest first."""

    async def recent_messages(self, conversation_id: str, limit: int) -> list[Message]:
        """The last ``limit`` messages, oldest first (what context building reads)."""

    async def all_messages(self, conversation_id: str) -> list[Message]:
        """Every message, oldest first (what the baseline sends upstream each turn)."""

    async def count_messages(self, conversation_id: str) -> int:
        """How many messages the conversation holds (every tier)."""

    async def get_summary(self, conversation_id: str) -> Summary | None:
        """The running summary the context builder keeps, if one was written."""

    async def set_summary(self, conversation_id: str, text: str, message_count: int) -> None:
        """Replace the running summary; ``message_count`` is how many messages it covers."""

    async def archive_idle(self, now: datetime) -> int:
        """Move conversations idle longer than the cold threshold to the archive; how many moved."""
