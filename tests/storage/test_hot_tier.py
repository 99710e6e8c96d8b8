"""The Redis hot tier: served from Redis when it can be, never wrong, never needed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from reference_server.storage.hot_tier import RedisHotTier
from reference_server.storage.sql_store import SqlChatStore
from reference_server.storage.tiered_store import TieredChatStore
from tests.services import PrivateRedis, free_port
from tests.storage.conftest import SECRET, make_message

pytestmark = pytest.mark.services


async def _tiered(
    database: str, redis_url: str, prefix: str = "chatopt:hot:", capacity: int = 10
) -> TieredChatStore:
    client = aioredis.Redis.from_url(redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
    hot = RedisHotTier(client, capacity=capacity, prefix=prefix)
    warm = SqlChatStore(database, secret=SECRET, batch_writes=True, batch_size=16, batch_ms=2)
    store = TieredChatStore(warm, hot, redis_timeout_s=0.25, backoff_s=0.05, owns_redis=True)
    await store.start()
    return store


@pytest.fixture
async def hot_store(tmp_path: Path, redis_url: str, redis_prefix: str) -> AsyncIterator[TieredChatStore]:
    store = await _tiered(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", redis_url, redis_prefix)
    try:
        yield store
    finally:
        await store.close()


async def test_newest_page_comes_from_redis_and_matches_sql(hot_store: TieredChatStore) -> None:
    conversation = await hot_store.create_conversation("alice", "hot")
    messages = [make_message(conversation.id, index) for index in range(14)]
    for message in messages:
        await hot_store.append_messages(conversation.id, [message])
    hits = hot_store.hot_hits
    page = await hot_store.list_messages(conversation.id, None, 6)
    assert hot_store.hot_hits == hits + 1
    assert page == await hot_store.warm.list_messages(conversation.id, None, 6)
    older = await hot_store.list_messages(conversation.id, page.next_cursor, 50)
    assert [m.content for m in older.items + page.items] == [m.content for m in messages]
    assert [m.content for m in await hot_store.recent_messages(conversation.id, 3)] == [
        "message 11",
        "message 12",
        "message 13",
    ]


async def test_a_miss_fills_the_copy_and_the_next_read_hits(hot_store: TieredChatStore) -> None:
    conversation = await hot_store.create_conversation("alice", "fill")
    await hot_store.append_messages(conversation.id, [make_message(conversation.id, i) for i in range(4)])
    await hot_store.hot.forget([conversation.id])
    misses = hot_store.hot_misses
    first = await hot_store.list_messages(conversation.id, None, 10)
    assert hot_store.hot_misses == misses + 1
    hits = hot_store.hot_hits
    assert await hot_store.list_messages(conversation.id, None, 10) == first
    assert hot_store.hot_hits == hits + 1 and len(first.items) == 4 and first.next_cursor is None


async def test_a_fill_that_raced_an_append_is_dropped(hot_store: TieredChatStore) -> None:
    conversation = await hot_store.create_conversation("alice", "race")
    await hot_store.hot.forget([conversation.id])
    seen = await hot_store.hot.read(conversation.id)
    stale_rows = await hot_store.warm.stored_page(conversation.id, None, 11)
    await hot_store.append_messages(conversation.id, [make_message(conversation.id, 1)])
    assert not await hot_store.hot.fill(conversation.id, seen.gen, None, stale_rows, complete=True)
    assert len((await hot_store.list_messages(conversation.id, None, 10)).items) == 1


async def test_the_running_summary_is_served_hot_and_never_goes_back_in_time(
    hot_store: TieredChatStore,
) -> None:
    conversation = await hot_store.create_conversation("alice", "summary")
    assert await hot_store.get_summary(conversation.id) is None
    hits = hot_store.hot_hits
    assert await hot_store.get_summary(conversation.id) is None and hot_store.hot_hits == hits + 1
    await hot_store.set_summary(conversation.id, "newer", 10)
    older = await hot_store.warm.get_summary(conversation.id)
    assert older is not None
    assert not await hot_store.hot.remember_summary(
        conversation.id, replace(older, text="older", message_count=5)
    )
    assert not await hot_store.hot.remember_summary(conversation.id, None)
    hits = hot_store.hot_hits
    assert await hot_store.get_summary(conversation.id) == older and hot_store.hot_hits == hits + 1


async def test_the_message_count_is_served_hot_and_kept_exact(hot_store: TieredChatStore) -> None:
    conversation = await hot_store.create_conversation("alice", "count")
    first = [make_message(conversation.id, i) for i in range(3)]
    await hot_store.append_messages(conversation.id, first)
    hits = hot_store.hot_hits
    assert await hot_store.count_messages(conversation.id) == 3 and hot_store.hot_hits == hits + 1
    await hot_store.append_messages(conversation.id, [make_message(conversation.id, 3)])
    assert await hot_store.count_messages(conversation.id) == 4
    await hot_store.append_messages(conversation.id, first)  # a repeat drops the copy instead of miscounting
    assert await hot_store.count_messages(conversation.id) == 4
    await hot_store.hot.forget([conversation.id])
    misses = hot_store.hot_misses
    assert await hot_store.count_messages(conversation.id) == 4 and hot_store.hot_misses == misses + 1
    hits = hot_store.hot_hits
    assert await hot_store.count_messages(conversation.id) == 4 and hot_store.hot_hits == hits + 1


async def test_cached_conversation_still_belongs_to_its_owner_only(hot_store: TieredChatStore) -> None:
    conversation = await hot_store.create_conversation("alice", "mine")
    assert (await hot_store.hot.read(conversation.id)).conversation is not None
    assert await hot_store.get_conversation(conversation.id, "mallory") is None
    mine = await hot_store.get_conversation(conversation.id, "alice")
    assert mine is not None and mine.title == "mine"


async def test_redis_killed_mid_run_loses_nothing(tmp_path: Path, private_redis: PrivateRedis) -> None:
    store = await _tiered(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}", private_redis.url)
    try:
        conversation = await store.create_conversation("alice", "kill")
        acked: list[str] = []
        for index in range(30):
            if index == 10:
                private_redis.stop()
            if index == 20:
                private_redis.start()
            message = make_message(conversation.id, index)
            await store.append_messages(conversation.id, [message])
            acked.append(message.content)
            page = await store.list_messages(conversation.id, None, 5)
            assert [m.content for m in page.items] == acked[-5:]
        assert [m.content for m in await store.all_messages(conversation.id)] == acked
        assert await store.warm.count_messages(conversation.id) == 30
    finally:
        await store.close()


class TcpProxy:
    """Forwards a local port to Redis; ``cut()`` drops the link while Redis keeps its data."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [client_writer, upstream_writer]

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()

        await asyncio.gather(pump(client_reader, upstream_writer), pump(upstream_reader, client_writer))


async def test_a_copy_that_missed_a_write_is_never_served(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    proxy = TcpProxy(private_redis.port)
    await proxy.open()
    store = await _tiered(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", f"redis://127.0.0.1:{proxy.port}/0")
    try:
        conversation = await store.create_conversation("alice", "partition")
        await store.append_messages(conversation.id, [make_message(conversation.id, 0)])
        assert len((await store.list_messages(conversation.id, None, 5)).items) == 1
        await proxy.cut()  # Redis keeps a copy that is about to go stale
        await store.append_messages(conversation.id, [make_message(conversation.id, 1)])
        assert [m.content for m in (await store.list_messages(conversation.id, None, 5)).items] == [
            "message 0",
            "message 1",
        ]
        await proxy.open()
        for _ in range(200):  # wait out the back-off (bounded)
            if store.redis_available:
                break
            await asyncio.sleep(0.01)
        page = await store.list_messages(conversation.id, None, 5)
        assert [m.content for m in page.items] == ["message 0", "message 1"]
        refilled = await store.hot.read(conversation.id)
        assert refilled.filled and len(refilled.messages) == 2
    finally:
        await store.close()
        await proxy.cut()
