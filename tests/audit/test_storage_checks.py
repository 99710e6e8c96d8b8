"""The optional storage checks on real PostgreSQL, SQLite and a Redis of the test's own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from chatopt.audit.checks.database import DatabaseCheck, async_url
from chatopt.audit.checks.redis_cache import RedisCacheCheck
from chatopt.audit.session import AuditOptions, AuditSession
from chatopt.targets import BUILTIN_TARGETS

TABLE = (
    "CREATE TABLE chat_messages (id TEXT PRIMARY KEY, conversation_id TEXT, user_id TEXT, created_at TEXT, "
    "body TEXT)"
)


def _run(check_type, **options):
    async def go():
        async with httpx.AsyncClient() as client:
            target = BUILTIN_TARGETS["reference"].with_overrides(url="http://127.0.0.1:9")
            return await check_type(AuditSession(target, client, AuditOptions(**options))).run()

    return asyncio.run(go())


def _execute(url: str, *statements: str) -> None:
    async def go():
        engine = create_async_engine(async_url(url))
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
        await engine.dispose()

    asyncio.run(go())


@pytest.mark.services
def test_postgres_history_table_without_indexes_is_a_finding(postgres_dsn: str) -> None:
    _execute(postgres_dsn, TABLE)
    [finding] = _run(DatabaseCheck, database_url=postgres_dsn)
    assert finding.status == "problem" and finding.spec_ref == "P7"
    [table] = finding.evidence["history_tables"]
    assert table["table"] == "chat_messages"
    assert sorted(table["missing_indexes"]) == ["conversation_id", "user_id"]
    assert "seq_scan" in table


@pytest.mark.services
def test_postgres_indexed_history_is_fine(postgres_dsn: str) -> None:
    _execute(
        postgres_dsn,
        TABLE,
        "CREATE INDEX ix_chat ON chat_messages (conversation_id, created_at)",
        "CREATE INDEX ix_user ON chat_messages (user_id, created_at)",
    )
    [finding] = _run(DatabaseCheck, database_url=postgres_dsn)
    assert finding.status == "ok"


def test_sqlite_history_is_inspected_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    _execute(url, TABLE, "CREATE INDEX ix_chat ON chat_messages (conversation_id)")
    [finding] = _run(DatabaseCheck, database_url=url)
    assert finding.status == "problem"
    assert finding.evidence["history_tables"][0]["missing_indexes"] == ["user_id"]


def test_without_a_database_url_there_is_not_enough_data() -> None:
    [finding] = _run(DatabaseCheck)
    assert finding.status == "not_enough_data"


@pytest.mark.services
def test_redis_cache_keys_without_ttl_are_a_finding(private_redis) -> None:
    client = redis.Redis.from_url(private_redis.url)
    client.set("answer-cache:1", "x")
    client.set("answer-cache:2", "y", ex=3600)
    client.set("session:9", "z")
    client.close()
    [finding] = _run(RedisCacheCheck, redis_url=private_redis.url)
    assert finding.status == "problem" and finding.title == "Cache keys never expire"
    assert (finding.evidence["cache_keys"], finding.evidence["cache_keys_without_ttl"]) == (2, 1)


@pytest.mark.services
def test_an_empty_redis_has_no_cache(private_redis) -> None:
    [finding] = _run(RedisCacheCheck, redis_url=private_redis.url)
    assert finding.status == "problem" and finding.evidence["keys_sampled"] == 0
