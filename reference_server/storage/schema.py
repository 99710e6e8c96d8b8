"""The history schema as SQLAlchemy Core tables (no ORM).

Secondary indexes are not declared here: migrations add them (``CREATE INDEX
CONCURRENTLY`` on PostgreSQL) so an existing database gains them without downtime.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC on every backend and read back timezone-aware."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


#: SQLite only auto-increments a column declared exactly ``INTEGER PRIMARY KEY``.
SequenceNumber = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("title", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
    Column("summary", Text, nullable=True),
    Column("summary_message_count", Integer, nullable=False, default=0),
    Column("summary_updated_at", UtcDateTime, nullable=True),
)

messages = Table(
    "messages",
    metadata,
    Column("seq", SequenceNumber, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("role", String(32), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("model", String(128), nullable=True),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("complete", Boolean, nullable=False, default=True),
    # Never reuse a sequence number: an archived conversation keeps its numbers for restoring.
    sqlite_autoincrement=True,
)

#: Cold tier: every message of an idle conversation as one compressed JSON blob.
cold_conversations = Table(
    "cold_conversations",
    metadata,
    Column("conversation_id", String(64), ForeignKey("conversations.id"), primary_key=True),
    Column("message_count", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("archived_at", UtcDateTime, nullable=False),
)

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

#: The tables of the first migration, in creation order.
HISTORY_TABLES = (conversations, messages, cold_conversations)
