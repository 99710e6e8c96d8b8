"""build_store: the settings pick the store, and what it builds works end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from reference_server.settings import settings_for_profile
from reference_server.storage.blocking_store import BlockingSqlStore
from reference_server.storage.factory import build_store
from reference_server.storage.sql_store import SqlChatStore
from reference_server.storage.tiered_store import TieredChatStore
from tests.storage.conftest import make_message


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"


def test_baseline_gets_the_blocking_store(tmp_path: Path) -> None:
    store = build_store(
        settings_for_profile("baseline", database_url=_sqlite(tmp_path), redis_url="redis://x")
    )
    assert isinstance(store, BlockingSqlStore)


def test_async_without_tiers_writes_unbatched(tmp_path: Path) -> None:
    store = build_store(settings_for_profile("baseline", database_url=_sqlite(tmp_path), async_io=True))
    assert isinstance(store, SqlChatStore) and store._buffer is None


def test_optimized_without_redis_batches_writes_on_sql_alone(tmp_path: Path) -> None:
    store = build_store(settings_for_profile("optimized", database_url=_sqlite(tmp_path)))
    assert isinstance(store, SqlChatStore) and store._buffer is not None


@pytest.mark.services
async def test_optimized_with_redis_url_runs_tiered_and_closes_its_client(
    tmp_path: Path, redis_url: str
) -> None:
    settings = settings_for_profile("optimized", database_url=_sqlite(tmp_path), redis_url=redis_url)
    store = build_store(settings)
    assert isinstance(store, TieredChatStore) and store.hot.capacity == settings.hot_tier_messages
    await store.start()
    try:
        conversation = await store.create_conversation("alice", "factory")
        await store.append_messages(conversation.id, [make_message(conversation.id, 0)])
        assert [m.content for m in (await store.list_messages(conversation.id, None, 50)).items] == [
            "message 0"
        ]
        assert store.hot_hits >= 1
        await store.hot.forget([conversation.id])
    finally:
        await store.close()


@pytest.mark.services
async def test_a_shared_redis_client_stays_open_for_its_owner(tmp_path: Path, redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    store = build_store(settings_for_profile("optimized", database_url=_sqlite(tmp_path)), redis=client)
    assert isinstance(store, TieredChatStore)
    await store.start()
    await store.close()
    assert await client.ping()
    await client.aclose()


def test_an_unknown_database_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        build_store(settings_for_profile("optimized", database_url="mysql://localhost/x"))


def test_in_memory_sqlite_is_refused_because_history_would_vanish() -> None:
    with pytest.raises(ValueError, match="give a file"):
        build_store(settings_for_profile("optimized", database_url="sqlite+aiosqlite://"))


@pytest.mark.services
async def test_tiers_in_front_of_the_blocking_store_work_too(tmp_path: Path, redis_url: str) -> None:
    settings = settings_for_profile("baseline", database_url=_sqlite(tmp_path), redis_url=redis_url)
    store = build_store(settings.with_overrides({"tiered_storage": True}))
    assert isinstance(store, TieredChatStore) and isinstance(store.warm, BlockingSqlStore)
    await store.start()
    try:
        conversation = await store.create_conversation("alice", "blocking behind redis")
        await store.append_messages(conversation.id, [make_message(conversation.id, 0)])
        await store.hot.forget([conversation.id])
        assert [m.content for m in (await store.list_messages(conversation.id, None, 50)).items] == [
            "message 0"
        ]
        assert [m.content for m in await store.recent_messages(conversation.id, 5)] == ["message 0"]
        await store.hot.forget([conversation.id])
    finally:
        await store.close()
