"""Keyset pages: limits, cursors in, cursors out — the same for every tier.

A store fetches ``limit + 1`` rows newest first; the extra row only says that
another page exists. The next cursor is the position of the oldest item returned.
"""

from __future__ import annotations

from reference_server.storage.base import Conversation, InvalidLimit, Message, Page
from reference_server.storage.cursors import CursorCodec, Position
from reference_server.storage.records import StoredMessage

MESSAGES = "m"
CONVERSATIONS = "c"


class Pager:
    """Validates page sizes and turns rows into pages with signed cursors."""

    def __init__(self, codec: CursorCodec, page_max: int) -> None:
        self.codec = codec
        self.page_max = page_max

    def check_limit(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= self.page_max:
            raise InvalidLimit(f"limit must be an integer from 1 to {self.page_max}, got {limit!r}")

    def message_position(self, conversation_id: str, before: str | None) -> Position | None:
        return None if before is None else self.codec.decode(before, MESSAGES, conversation_id)

    def conversation_position(self, user_id: str, cursor: str | None) -> Position | None:
        return None if cursor is None else self.codec.decode(cursor, CONVERSATIONS, user_id)

    def message_page(
        self, conversation_id: str, newest_first: list[StoredMessage], limit: int
    ) -> Page[Message]:
        """A page from up to ``limit + 1`` rows, newest first; items come out oldest first."""
        return self.page_of_messages(conversation_id, newest_first[:limit], len(newest_first) > limit)

    def page_of_messages(
        self, conversation_id: str, items: list[StoredMessage], has_more: bool
    ) -> Page[Message]:
        """A page of ``items`` (newest first); a cursor to the older ones when ``has_more``."""
        next_cursor = None
        if has_more and items:
            oldest = items[-1]
            next_cursor = self.codec.encode(
                Position(MESSAGES, conversation_id, oldest.message.created_at, oldest.seq)
            )
        return Page([item.message for item in reversed(items)], next_cursor)

    def conversation_page(
        self, user_id: str, newest_first: list[Conversation], limit: int
    ) -> Page[Conversation]:
        """A page from up to ``limit + 1`` conversations, most recently updated first."""
        items = newest_first[:limit]
        next_cursor = None
        if len(newest_first) > limit and items:
            last = items[-1]
            next_cursor = self.codec.encode(Position(CONVERSATIONS, user_id, last.updated_at, last.id))
        return Page(items, next_cursor)
