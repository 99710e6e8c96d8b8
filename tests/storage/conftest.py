"""Stores under test: every implementation on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reference_server.storage.base import ChatStore, Message
from reference_server.storage.blocking_store import BlockingSqlStore
from reference_server.storage.sql_store import SqlChatStore

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


StoreBuilder = Callable[[str], ChatStore]

STORE_KINDS: dict[str, StoreBuilder] = {
    "async": lambda url: SqlChatStore(url, secret=SECRET, batch_writes=False),
    "blocking": lambda url: BlockingSqlStore(url, secret=SECRET),
    "batched": lambda url: SqlChatStore(url, secret=SECRET, batch_writes=True, batch_size=8, batch_ms=2),
}


@pytest.fixture(params=sorted(STORE_KINDS))
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[ChatStore]:
    """A started store of each kind on each backend, closed afterwards."""
    chat_store = STORE_KINDS[request.param](database_url)
    await chat_store.start()
    try:
        yield chat_store
    finally:
        await chat_store.close()
