"""Every SQL statement of the history store, written once against a sync ``Connection``.

The async store runs these through ``AsyncConnection.run_sync`` (greenlet-driven, so
the event loop never blocks); the baseline store calls them on a blocking engine.
Queries name their columns, always carry a LIMIT, and page by keyset (no OFFSET).
Reads fall through to the cold archive when a conversation's messages were moved there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from reference_server.storage.base import Conversation, Message, Summary
from reference_server.storage.cursors import Position
from reference_server.storage.records import StoredMessage, decode_archive, encode_archive
from reference_server.storage.schema import cold_conversations, conversations, messages

#: Rows fetched per round trip when a caller wants a whole conversation.
FULL_READ_CHUNK = 500

_CONVERSATION_COLUMNS = (
    conversations.c.id,
    conversations.c.user_id,
    conversations.c.title,
    conversations.c.created_at,
    conversations.c.updated_at,
)
_MESSAGE_COLUMNS = (
    messages.c.seq,
    messages.c.id,
    messages.c.conversation_id,
    messages.c.role,
    messages.c.content,
    messages.c.created_at,
    messages.c.model,
    messages.c.prompt_tokens,
    messages.c.completion_tokens,
    messages.c.complete,
)


def _conversation(row: Row[Any]) -> Conversation:
    return Conversation(row.id, row.user_id, row.title, row.created_at, row.updated_at)


def _stored(row: Row[Any]) -> StoredMessage:
    return StoredMessage(
        seq=row.seq,
        message=Message(
            id=row.id,
            conversation_id=row.conversation_id,
            role=row.role,
            content=row.content,
            created_at=row.created_at,
            model=row.model,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            complete=bool(row.complete),
        ),
    )


def _message_row(message: Message, seq: int | None = None) -> dict[str, Any]:
    row = {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at,
        "model": message.model,
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "complete": message.complete,
    }
    if seq is not None:
        row["seq"] = seq
    return row


@dataclass(frozen=True)
class WriteResult:
    """What a batch write did: conversations that do not exist, and the seq of each message it inserted."""

    unknown: set[str] = field(default_factory=set)
    seqs: dict[str, int] = field(default_factory=dict)

    def inserted(self, appended: Sequence[Message]) -> list[StoredMessage]:
        """Those of ``appended`` this write inserted, with their sequence numbers."""
        return [
            StoredMessage(self.seqs[message.id], message) for message in appended if message.id in self.seqs
        ]


def _insert_messages(connection: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert message rows; a row whose id is already stored is skipped (retries are safe).

    Returns the sequence number of each row inserted now (skipped rows are not in it).
    """
    if not rows:
        return {}
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(messages)
        .on_conflict_do_nothing(index_elements=[messages.c.id])
        .returning(messages.c.id, messages.c.seq)
    )
    return {row.id: row.seq for row in connection.execute(statement, rows)}


# --- conversations -----------------------------------------------------------------------------


def insert_conversation(connection: Connection, conversation: Conversation) -> None:
    connection.execute(
        conversations.insert().values(
            id=conversation.id,
            user_id=conversation.user_id,
            title=conversation.title,
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            archived=False,
            summary_message_count=0,
        )
    )


def select_conversation(connection: Connection, conversation_id: str, user_id: str) -> Conversation | None:
    row = connection.execute(
        select(*_CONVERSATION_COLUMNS)
        .where(conversations.c.id == conversation_id, conversations.c.user_id == user_id)
        .limit(1)
    ).first()
    return None if row is None else _conversation(row)


def select_conversations(
    connection: Connection, user_id: str, after: Position | None, limit: int
) -> list[Conversation]:
    """Up to ``limit`` of the user's conversations after ``after``, most recently updated first."""
    query = select(*_CONVERSATION_COLUMNS).where(conversations.c.user_id == user_id)
    if after is not None:
        query = query.where(
            tuple_(conversations.c.updated_at, conversations.c.id) < (after.at, after.tiebreak)
        )
    query = query.order_by(conversations.c.updated_at.desc(), conversations.c.id.desc()).limit(limit)
    return [_conversation(row) for row in connection.execute(query)]


# --- writes ------------------------------------------------------------------------------------


def write_messages(
    connection: Connection, batch: Sequence[tuple[str, Sequence[Message]]], now: datetime
) -> WriteResult:
    """Store a batch of appends in the caller's transaction.

    Every conversation row is touched first (``updated_at``) in one UPDATE, which also
    locks them (in key order) against a concurrent move to the cold tier; an archived
    conversation is restored to the warm tier before its new messages land. Then every
    message goes in with one executemany: two statements per batch, however large.
    """
    wanted = sorted({conversation_id for conversation_id, _ in batch})
    touched = dict(
        connection.execute(
            update(conversations)
            .where(conversations.c.id.in_(wanted))
            .values(updated_at=now)
            .returning(conversations.c.id, conversations.c.archived)
        ).all()
    )
    unknown = set(wanted) - set(touched)
    for conversation_id in sorted(
        conversation_id for conversation_id, archived in touched.items() if archived
    ):
        restore_archived(connection, conversation_id)
    rows = [
        _message_row(message)
        for conversation_id, items in batch
        if conversation_id not in unknown
        for message in items
    ]
    return WriteResult(unknown, _insert_messages(connection, rows))


# --- message reads -----------------------------------------------------------------------------


def _newest_first(conversation_id: str, before: Position | None, limit: int) -> Any:
    query = select(*_MESSAGE_COLUMNS).where(messages.c.conversation_id == conversation_id)
    if before is not None:
        query = query.where(tuple_(messages.c.created_at, messages.c.seq) < (before.at, before.tiebreak))
    return query.order_by(messages.c.created_at.desc(), messages.c.seq.desc()).limit(limit)


def select_archive(connection: Connection, conversation_id: str) -> list[StoredMessage] | None:
    """The cold-tier messages of a conversation, oldest first; None when it is not archived."""
    payload = connection.execute(
        select(cold_conversations.c.payload)
        .where(cold_conversations.c.conversation_id == conversation_id)
        .limit(1)
    ).scalar_one_or_none()
    return None if payload is None else decode_archive(payload)


def _warm_or_cold(
    connection: Connection, conversation_id: str, query: Any
) -> tuple[list[StoredMessage], list[StoredMessage] | None]:
    """Rows of ``query`` from the warm tier, or the whole archive when the conversation is cold.

    A conversation's messages live either in ``messages`` or in its archive blob, never
    both (archiving and restoring are single transactions). An empty warm result can
    race a restore that commits between the two reads, so the warm query runs once more.
    """
    rows = [_stored(row) for row in connection.execute(query)]
    if rows:
        return rows, None
    archive = select_archive(connection, conversation_id)
    if archive is not None:
        return [], archive
    return [_stored(row) for row in connection.execute(query)], None


def page_of(sorted_messages: list[StoredMessage], before: Position | None, limit: int) -> list[StoredMessage]:
    """Up to ``limit`` messages older than ``before``, newest first, from an oldest-first list."""
    if before is not None:
        bound = (before.at, int(before.tiebreak))
        sorted_messages = [item for item in sorted_messages if item.sort_key < bound]
    return list(reversed(sorted_messages[-limit:])) if limit > 0 else []


def select_messages_page(
    connection: Connection, conversation_id: str, before: Position | None, limit: int
) -> list[StoredMessage]:
    """Up to ``limit`` messages older than ``before``, newest first."""
    rows, archive = _warm_or_cold(connection, conversation_id, _newest_first(conversation_id, before, limit))
    return page_of(archive, before, limit) if archive is not None else rows


def select_all_messages(connection: Connection, conversation_id: str) -> list[StoredMessage]:
    """Every message, oldest first, read in LIMITed keyset chunks."""
    query = (
        select(*_MESSAGE_COLUMNS)
        .where(messages.c.conversation_id == conversation_id)
        .order_by(messages.c.created_at, messages.c.seq)
        .limit(FULL_READ_CHUNK)
    )
    rows, archive = _warm_or_cold(connection, conversation_id, query)
    if archive is not None:
        return archive
    collected = rows
    while len(rows) == FULL_READ_CHUNK:
        last = rows[-1]
        rows = [
            _stored(row)
            for row in connection.execute(
                query.where(tuple_(messages.c.created_at, messages.c.seq) > last.sort_key)
            )
        ]
        collected.extend(rows)
    return collected


def count_messages(connection: Connection, conversation_id: str) -> int:
    warm = connection.execute(
        select(func.count()).select_from(messages).where(messages.c.conversation_id == conversation_id)
    ).scalar_one()
    if warm:
        return int(warm)
    cold = connection.execute(
        select(cold_conversations.c.message_count).where(
            cold_conversations.c.conversation_id == conversation_id
        )
    ).scalar_one_or_none()
    return int(cold or 0)


# --- running summary ---------------------------------------------------------------------------


def select_summary(connection: Connection, conversation_id: str) -> Summary | None:
    row = connection.execute(
        select(
            conversations.c.summary, conversations.c.summary_message_count, conversations.c.summary_updated_at
        )
        .where(conversations.c.id == conversation_id)
        .limit(1)
    ).first()
    if row is None or row.summary is None:
        return None
    return Summary(row.summary, row.summary_message_count, row.summary_updated_at)


def update_summary(
    connection: Connection, conversation_id: str, text: str, message_count: int, now: datetime
) -> bool:
    """Replace the summary; False when the conversation does not exist."""
    result = connection.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(summary=text, summary_message_count=message_count, summary_updated_at=now)
    )
    return result.rowcount == 1


# --- cold tier ---------------------------------------------------------------------------------


def select_idle(connection: Connection, cutoff: datetime, limit: int) -> list[str]:
    """Ids of warm conversations not updated since ``cutoff`` (oldest first)."""
    return list(
        connection.execute(
            select(conversations.c.id)
            .where(conversations.c.archived.is_(False), conversations.c.updated_at < cutoff)
            .order_by(conversations.c.updated_at)
            .limit(limit)
        ).scalars()
    )


def archive_conversation(
    connection: Connection, conversation_id: str, cutoff: datetime, now: datetime
) -> bool:
    """Move one idle conversation's messages into a compressed blob, in the caller's transaction.

    Claiming the row first (an UPDATE that re-checks idleness) locks it, so an append
    that races the move waits for it and then restores the conversation; nothing is lost.
    """
    claimed = connection.execute(
        update(conversations)
        .where(
            conversations.c.id == conversation_id,
            conversations.c.archived.is_(False),
            conversations.c.updated_at < cutoff,
        )
        .values(archived=True)
    ).rowcount
    if claimed != 1:
        return False
    stored = select_all_messages(connection, conversation_id)
    connection.execute(
        cold_conversations.insert().values(
            conversation_id=conversation_id,
            message_count=len(stored),
            payload=encode_archive(stored),
            archived_at=now,
        )
    )
    if stored:
        connection.execute(
            delete(messages).where(
                and_(
                    messages.c.conversation_id == conversation_id,
                    messages.c.seq <= max(s.seq for s in stored),
                )
            )
        )
    return True


def restore_archived(connection: Connection, conversation_id: str) -> None:
    """Bring an archived conversation back to the warm tier, keeping sequence numbers (and cursors)."""
    stored = select_archive(connection, conversation_id) or []
    _insert_messages(connection, [_message_row(item.message, item.seq) for item in stored])
    connection.execute(
        delete(cold_conversations).where(cold_conversations.c.conversation_id == conversation_id)
    )
    connection.execute(
        update(conversations).where(conversations.c.id == conversation_id).values(archived=False)
    )
