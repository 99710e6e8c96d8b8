"""Migrations: versioned, recorded, idempotent, and indexes that queries actually use."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text

from reference_server.storage import migrations
from reference_server.storage.engines import create_async
from reference_server.storage.schema import schema_migrations
from reference_server.storage.sql_store import SqlChatStore
from tests.storage.conftest import SECRET, make_message

ALL_VERSIONS = [step.version for step in migrations.MIGRATIONS]
INDEXES = {
    migrations.MESSAGES_BY_CONVERSATION.name: ["conversation_id", "created_at", "seq"],
    migrations.CONVERSATIONS_BY_USER.name: ["user_id", "updated_at", "id"],
}


async def _migrate(
    database_url: str, steps: tuple[migrations.Migration, ...] = migrations.MIGRATIONS
) -> list[int]:
    engine = create_async(database_url)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return await autocommit.run_sync(migrations.migrate, steps)
    finally:
        await engine.dispose()


async def _indexes(database_url: str) -> dict[str, list[str]]:
    engine = create_async(database_url)
    try:
        async with engine.connect() as connection:

            def read(sync_connection):  # type: ignore[no-untyped-def]
                inspector = inspect(sync_connection)
                found = {}
                for table in ("messages", "conversations"):
                    for index in inspector.get_indexes(table):
                        found[index["name"]] = list(index["column_names"])
                return found

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def test_every_step_runs_once_and_is_recorded(database_url: str) -> None:
    assert await _migrate(database_url) == ALL_VERSIONS
    assert await _migrate(database_url) == []
    engine = create_async(database_url)
    async with engine.connect() as connection:
        recorded = (await connection.execute(select(schema_migrations.c.version))).scalars().all()
    await engine.dispose()
    assert sorted(recorded) == ALL_VERSIONS
    found = await _indexes(database_url)
    assert {name: found.get(name) for name in INDEXES} == INDEXES


async def test_an_existing_database_gains_indexes_and_keeps_its_rows(database_url: str) -> None:
    assert await _migrate(database_url, migrations.MIGRATIONS[:1]) == [1]
    assert not set(INDEXES) & set(await _indexes(database_url))
    old = SqlChatStore(database_url, secret=SECRET, batch_writes=False)
    old._engine = create_async(database_url)  # run on the version-1 schema without migrating further
    conversation = await old.create_conversation("alice", "before the upgrade")
    await old.append_messages(conversation.id, [make_message(conversation.id, index) for index in range(3)])
    await old.close()

    assert await _migrate(database_url) == ALL_VERSIONS[1:]
    upgraded = SqlChatStore(database_url, secret=SECRET, batch_writes=False)
    await upgraded.start()
    try:
        assert await upgraded.count_messages(conversation.id) == 3
    finally:
        await upgraded.close()


async def test_a_step_rerun_after_a_crash_before_its_record_is_harmless(database_url: str) -> None:
    await _migrate(database_url)
    engine = create_async(database_url)
    async with engine.begin() as connection:
        await connection.execute(schema_migrations.delete().where(schema_migrations.c.version >= 2))
    await engine.dispose()
    assert await _migrate(database_url) == ALL_VERSIONS[1:]


async def test_stores_starting_together_migrate_once(database_url: str) -> None:
    stores = [SqlChatStore(database_url, secret=SECRET) for _ in range(3)]
    await asyncio.gather(*(store.start() for store in stores))
    for store in stores:
        await store.close()
    engine = create_async(database_url)
    async with engine.connect() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM schema_migrations"))).scalar_one()
    await engine.dispose()
    assert count == len(ALL_VERSIONS)


@pytest.mark.services
async def test_postgres_replaces_an_index_left_invalid_by_a_failed_concurrent_build(
    postgres_url: str,
) -> None:
    await _migrate(postgres_url)
    name = migrations.MESSAGES_BY_CONVERSATION.name
    engine = create_async(postgres_url)
    async with engine.begin() as connection:
        await connection.execute(
            text(f"UPDATE pg_index SET indisvalid = false WHERE indexrelid = '{name}'::regclass")
        )
        await connection.execute(schema_migrations.delete().where(schema_migrations.c.version == 2))
    await _migrate(postgres_url)
    async with engine.connect() as connection:
        valid = (
            await connection.execute(
                text(f"SELECT indisvalid FROM pg_index WHERE indexrelid = '{name}'::regclass")
            )
        ).scalar_one()
    await engine.dispose()
    assert valid is True


@pytest.mark.services
async def test_postgres_history_queries_use_the_compound_indexes(postgres_url: str) -> None:
    await _migrate(postgres_url)
    now = datetime.now(UTC).replace(tzinfo=None)
    page = (
        "SELECT seq, id, role, content, created_at FROM messages WHERE conversation_id = 'c' "
        "AND (created_at, seq) < (:now, 10) ORDER BY created_at DESC, seq DESC LIMIT 51"
    )
    listing = (
        "SELECT id, title, updated_at FROM conversations WHERE user_id = 'u' "
        "AND (updated_at, id) < (:now, 'z') ORDER BY updated_at DESC, id DESC LIMIT 51"
    )
    engine = create_async(postgres_url)
    async with engine.begin() as connection:
        await connection.execute(text("SET LOCAL enable_seqscan = off"))
        plans = []
        for query in (page, listing):
            rows = (await connection.execute(text(f"EXPLAIN {query}"), {"now": now})).scalars().all()
            plans.append("\n".join(rows))
    await engine.dispose()
    assert migrations.MESSAGES_BY_CONVERSATION.name in plans[0]
    assert migrations.CONVERSATIONS_BY_USER.name in plans[1]
    assert "Sort" not in plans[0] and "Sort" not in plans[1]


@pytest.mark.services
async def test_postgres_builds_the_indexes_while_writers_keep_writing(postgres_url: str) -> None:
    assert await _migrate(postgres_url, migrations.MIGRATIONS[:1]) == [1]
    store = SqlChatStore(postgres_url, secret=SECRET, batch_writes=True, batch_ms=1)
    store._engine = create_async(postgres_url)  # write on the version-1 schema, no indexes yet
    store._buffer.start()  # type: ignore[union-attr]
    conversation = await store.create_conversation("alice", "during the migration")
    written = during_migration = 0
    migrating = asyncio.create_task(_migrate(postgres_url))
    try:
        for index in range(2000):  # bounded: keep writing until the index builds are done
            await store.append_messages(conversation.id, [make_message(conversation.id, index)])
            written += 1
            if not migrating.done():
                during_migration += 1
            elif written >= 20:
                break
        assert await migrating == ALL_VERSIONS[1:]
    finally:
        await store.close()
    assert during_migration > 0, "no write overlapped the index builds"
    found = await _indexes(postgres_url)
    assert {name: found.get(name) for name in INDEXES} == INDEXES
    verify = SqlChatStore(postgres_url, secret=SECRET, batch_writes=False)
    await verify.start()
    try:
        assert await verify.count_messages(conversation.id) == written
    finally:
        await verify.close()
