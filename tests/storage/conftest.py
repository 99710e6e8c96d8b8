"""Stores under test: every implementation on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reference_server.storage.base import ChatStore, Message
from reference_server.storage.blocking_store import BlockingSqlStore
from reference_server.storage.hot_tier import RedisHotTier
from reference_server.storage.sql_store import SqlChatStore
from reference_server.storage.tiered_store import TieredChatStore
from tests.storage.private_postgres import PrivatePostgres

SECRET = "test-secret"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_message(conversation_id: str, index: int, at: datetime | None = None, role: str = "user") -> Message:
    """A message whose content names its index; one second apart by default."""
    return Message(
        id=uuid.uuid4().hex,
        conversation_id=conversation_id,
        role=role,
        content=f"message {index}",
        created_at=at or T0 + timedelta(seconds=index),
        model="large" if role == "assistant" else None,
        prompt_tokens=10 if role == "assistant" else None,
        completion_tokens=5 if role == "assistant" else None,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'history.db'}"
    return request.getfixturevalue("postgres_url")


StoreBuilder = Callable[[str, pytest.FixtureRequest], ChatStore]


def tiered(url: str, request: pytest.FixtureRequest, capacity: int = 8) -> TieredChatStore:
    """Batched SQL behind a Redis hot tier on the machine's Redis, under this test's key prefix."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    hot = RedisHotTier(client, capacity=capacity, prefix=request.getfixturevalue("redis_prefix"))
    warm = SqlChatStore(url, secret=SECRET, batch_writes=True, batch_size=8, batch_ms=2)
    return TieredChatStore(warm, hot, owns_redis=True)


STORE_KINDS: dict[str, StoreBuilder] = {
    "async": lambda url, _: SqlChatStore(url, secret=SECRET, batch_writes=False),
    "blocking": lambda url, _: BlockingSqlStore(url, secret=SECRET),
    "batched": lambda url, _: SqlChatStore(url, secret=SECRET, batch_writes=True, batch_size=8, batch_ms=2),
    "tiered": tiered,
}


@pytest.fixture(
    params=[*sorted(set(STORE_KINDS) - {"tiered"}), pytest.param("tiered", marks=pytest.mark.services)]
)
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[ChatStore]:
    """A started store of each kind on each backend, closed afterwards."""
    chat_store = STORE_KINDS[request.param](database_url, request)
    await chat_store.start()
    try:
        yield chat_store
    finally:
        await chat_store.close()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started PostgreSQL cluster of this test's own (crash it at will)."""
    cluster = PrivatePostgres()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
