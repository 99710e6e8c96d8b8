"""A tiny schema migration runner: versioned steps, recorded in ``schema_migrations``.

Every step is idempotent (``IF NOT EXISTS``) and runs on an autocommit connection,
so PostgreSQL can build indexes with ``CREATE INDEX CONCURRENTLY`` (which refuses to
run inside a transaction) while the application keeps reading and writing. A
PostgreSQL advisory lock keeps several workers starting at once from racing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import IntegrityError

from reference_server.storage.schema import HISTORY_TABLES, schema_migrations

#: Arbitrary constant naming the advisory lock that serializes migrations on PostgreSQL.
MIGRATION_LOCK_ID = 727_004_117
LOCK_POLL_S = 0.1
LOCK_POLLS = 1200


@dataclass(frozen=True)
class Migration:
    """One versioned, idempotent schema change."""

    version: int
    name: str
    apply: Callable[[Connection], None]


@dataclass(frozen=True)
class IndexSpec:
    """A secondary index built without blocking writers."""

    name: str
    table: str
    columns: tuple[str, ...]


def _create_history_tables(connection: Connection) -> None:
    for table in HISTORY_TABLES:
        table.create(connection, checkfirst=True)


def _create_index(spec: IndexSpec) -> Callable[[Connection], None]:
    columns = ", ".join(spec.columns)

    def apply(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            # A concurrent build that failed leaves an INVALID index that IF NOT EXISTS would keep.
            invalid = connection.execute(
                text(
                    "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace "
                    "AND NOT i.indisvalid"
                ),
                {"name": spec.name},
            ).first()
            if invalid:
                connection.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {spec.name}")
            connection.exec_driver_sql(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {spec.name} ON {spec.table} ({columns})"
            )
        else:
            connection.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {spec.name} ON {spec.table} ({columns})")

    return apply


MESSAGES_BY_CONVERSATION = IndexSpec(
    "ix_messages_conversation_created", "messages", ("conversation_id", "created_at", "seq")
)
CONVERSATIONS_BY_USER = IndexSpec(
    "ix_conversations_user_updated", "conversations", ("user_id", "updated_at", "id")
)
CONVERSATIONS_BY_IDLENESS = IndexSpec(
    "ix_conversations_archived_updated", "conversations", ("archived", "updated_at")
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "history tables", _create_history_tables),
    Migration(2, "messages by (conversation_id, created_at)", _create_index(MESSAGES_BY_CONVERSATION)),
    Migration(3, "conversations by (user_id, updated_at)", _create_index(CONVERSATIONS_BY_USER)),
    Migration(4, "idle conversations for the cold-tier job", _create_index(CONVERSATIONS_BY_IDLENESS)),
)


def applied_versions(connection: Connection) -> set[int]:
    """Versions already recorded (empty on a new database)."""
    schema_migrations.create(connection, checkfirst=True)
    return set(connection.execute(select(schema_migrations.c.version)).scalars())


def _lock(connection: Connection) -> None:
    """Take the migration lock by polling.

    A session blocked in ``pg_advisory_lock`` keeps a snapshot open, and ``CREATE INDEX
    CONCURRENTLY`` in the session holding the lock would wait for it: a deadlock. Polling
    with short statements leaves nothing for the index build to wait on.
    """
    for _ in range(LOCK_POLLS):
        if connection.execute(
            text("SELECT pg_try_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID}
        ).scalar_one():
            return
        connection.execute(text("SELECT pg_sleep(:s)"), {"s": LOCK_POLL_S})
    raise TimeoutError(f"another process held the migration lock for {LOCK_POLLS * LOCK_POLL_S:.0f} s")


def migrate(connection: Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply the missing steps in order on an AUTOCOMMIT connection; the versions applied now."""
    is_postgres = connection.dialect.name == "postgresql"
    if is_postgres:
        _lock(connection)
    try:
        done = applied_versions(connection)
        applied: list[int] = []
        for step in sorted(migrations, key=lambda migration: migration.version):
            if step.version in done:
                continue
            step.apply(connection)
            try:
                connection.execute(
                    schema_migrations.insert().values(
                        version=step.version, name=step.name, applied_at=datetime.now(UTC)
                    )
                )
            except IntegrityError:
                continue  # another SQLite process recorded the same idempotent step first
            applied.append(step.version)
        return applied
    finally:
        if is_postgres:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
