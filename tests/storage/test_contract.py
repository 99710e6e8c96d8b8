"""The ChatStore contract, checked on every store kind and on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from reference_server.storage import operations
from reference_server.storage.base import ChatStore, InvalidCursor, InvalidLimit, UnknownConversation
from tests.storage.conftest import T0, make_message


async def _conversation_with(store: ChatStore, count: int, user: str = "alice") -> tuple[str, list[str]]:
    conversation = await store.create_conversation(user, "chat")
    messages = [make_message(conversation.id, index) for index in range(count)]
    await store.append_messages(conversation.id, messages)
    return conversation.id, [message.content for message in messages]


async def _walk_messages(store: ChatStore, conversation_id: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    for _ in range(100):
        page = await store.list_messages(conversation_id, cursor, limit)
        pages.append([message.content for message in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages
    raise AssertionError("pagination never ended")


async def test_conversation_belongs_to_its_user_only(store: ChatStore) -> None:
    conversation = await store.create_conversation("alice", "Plans")
    mine = await store.get_conversation(conversation.id, "alice")
    assert mine is not None and mine.title == "Plans" and mine.user_id == "alice"
    assert await store.get_conversation(conversation.id, "mallory") is None
    assert await store.get_conversation("no-such-conversation", "alice") is None
    assert (await store.list_conversations("mallory", None, 50)).items == []


async def test_pages_walk_every_message_once_newest_page_first(store: ChatStore) -> None:
    conversation_id, contents = await _conversation_with(store, 23)
    pages = await _walk_messages(store, conversation_id, 5)
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert pages[0] == contents[-5:]
    assert [content for page in reversed(pages) for content in page] == contents


async def test_a_page_that_fits_exactly_has_no_next_cursor(store: ChatStore) -> None:
    conversation_id, contents = await _conversation_with(store, 10)
    page = await store.list_messages(conversation_id, None, 10)
    assert [message.content for message in page.items] == contents
    assert page.next_cursor is None


async def test_equal_timestamps_keep_insertion_order(store: ChatStore) -> None:
    conversation = await store.create_conversation("alice", "same instant")
    messages = [make_message(conversation.id, index, at=T0) for index in range(7)]
    for message in messages:
        await store.append_messages(conversation.id, [message])
    pages = await _walk_messages(store, conversation.id, 3)
    assert [content for page in reversed(pages) for content in page] == [m.content for m in messages]


async def test_recent_and_all_messages_are_oldest_first(
    store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "FULL_READ_CHUNK", 4)
    conversation_id, contents = await _conversation_with(store, 11)
    recent = await store.recent_messages(conversation_id, 3)
    assert [message.content for message in recent] == contents[-3:]
    assert [message.content for message in await store.all_messages(conversation_id)] == contents
    assert await store.count_messages(conversation_id) == 11


async def test_message_fields_round_trip(store: ChatStore) -> None:
    conversation = await store.create_conversation("alice", "fields")
    answer = make_message(conversation.id, 1, role="assistant")
    partial = make_message(conversation.id, 2, role="assistant")
    partial = type(partial)(**{**partial.__dict__, "complete": False, "content": "cut sh"})
    await store.append_messages(conversation.id, [answer, partial])
    assert await store.all_messages(conversation.id) == [answer, partial]


async def test_page_size_outside_one_to_fifty_is_refused(store: ChatStore) -> None:
    conversation_id, _ = await _conversation_with(store, 2)
    for limit in (0, -1, 51, 1000):
        with pytest.raises(InvalidLimit):
            await store.list_messages(conversation_id, None, limit)
        with pytest.raises(InvalidLimit):
            await store.list_conversations("alice", None, limit)
    assert len((await store.list_messages(conversation_id, None, 50)).items) == 2


async def test_cursors_that_were_not_issued_here_are_refused(store: ChatStore) -> None:
    conversation_id, _ = await _conversation_with(store, 6)
    other_id, _ = await _conversation_with(store, 6)
    cursor = (await store.list_messages(conversation_id, None, 2)).next_cursor
    assert cursor is not None
    body, signature = cursor.split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    for bad in ["garbage", "", "a.b.c", tampered, cursor + "x", "ü.ü"]:
        with pytest.raises(InvalidCursor):
            await store.list_messages(conversation_id, bad, 2)
    with pytest.raises(InvalidCursor):
        await store.list_messages(other_id, cursor, 2)
    with pytest.raises(InvalidCursor):
        await store.list_conversations("alice", cursor, 2)


async def test_conversations_list_most_recently_updated_first(store: ChatStore) -> None:
    ids = [(await store.create_conversation("bob", f"c{index}")).id for index in range(5)]
    await store.create_conversation("carol", "not bob's")
    await store.append_messages(ids[1], [make_message(ids[1], 0)])
    seen, cursor = [], None
    for _ in range(10):
        page = await store.list_conversations("bob", cursor, 2)
        seen.extend(conversation.id for conversation in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen[0] == ids[1]
    assert sorted(seen) == sorted(ids)
    assert seen[1:] == [conversation_id for conversation_id in reversed(ids) if conversation_id != ids[1]]


async def test_appending_to_an_unknown_conversation_fails_and_stores_nothing(store: ChatStore) -> None:
    with pytest.raises(UnknownConversation):
        await store.append_messages("missing", [make_message("missing", 0)])
    assert await store.count_messages("missing") == 0


async def test_a_message_for_another_conversation_is_refused(store: ChatStore) -> None:
    conversation_id, _ = await _conversation_with(store, 1)
    with pytest.raises(ValueError):
        await store.append_messages(conversation_id, [make_message("elsewhere", 1)])
    assert await store.count_messages(conversation_id) == 1


async def test_retried_append_stores_each_message_once(store: ChatStore) -> None:
    conversation = await store.create_conversation("alice", "retry")
    messages = [make_message(conversation.id, index) for index in range(3)]
    await store.append_messages(conversation.id, messages)
    await store.append_messages(conversation.id, messages)
    assert await store.count_messages(conversation.id) == 3


async def test_concurrent_appends_to_many_conversations_all_land(store: ChatStore) -> None:
    conversations = [await store.create_conversation("alice", f"c{index}") for index in range(4)]
    unknown = [make_message("missing", 0)]

    async def append(index: int) -> None:
        conversation = conversations[index % 4]
        await store.append_messages(conversation.id, [make_message(conversation.id, index)])

    results = await asyncio.gather(
        *(append(index) for index in range(40)),
        store.append_messages("missing", unknown),
        return_exceptions=True,
    )
    assert [type(result) for result in results if result is not None] == [UnknownConversation]
    counts = [await store.count_messages(conversation.id) for conversation in conversations]
    assert counts == [10, 10, 10, 10]


async def test_summary_is_kept_per_conversation(store: ChatStore) -> None:
    conversation_id, _ = await _conversation_with(store, 5)
    assert await store.get_summary(conversation_id) is None
    await store.set_summary(conversation_id, "they talked about plans", 5)
    summary = await store.get_summary(conversation_id)
    assert summary is not None and (summary.text, summary.message_count) == ("they talked about plans", 5)
    with pytest.raises(UnknownConversation):
        await store.set_summary("missing", "x", 1)


async def test_idle_conversations_move_to_the_cold_tier_and_read_back_the_same(store: ChatStore) -> None:
    idle_id, contents = await _conversation_with(store, 12)
    first_page = await store.list_messages(idle_id, None, 5)
    before = [await _walk_messages(store, idle_id, 5), await store.all_messages(idle_id)]
    later = T0.replace(year=2099)

    assert await store.archive_idle(later) == 1
    assert await store.archive_idle(later) == 0
    assert [await _walk_messages(store, idle_id, 5), await store.all_messages(idle_id)] == before
    assert [m.content for m in await store.recent_messages(idle_id, 4)] == contents[-4:]
    assert await store.count_messages(idle_id) == 12
    older = await store.list_messages(idle_id, first_page.next_cursor, 5)
    assert [message.content for message in older.items] == contents[2:7]
    assert (await store.list_conversations("alice", None, 50)).items[0].id == idle_id


async def test_a_new_message_brings_a_cold_conversation_back(store: ChatStore) -> None:
    conversation_id, contents = await _conversation_with(store, 6)
    cursor = (await store.list_messages(conversation_id, None, 2)).next_cursor
    assert await store.archive_idle(T0.replace(year=2099)) == 1
    reply = make_message(conversation_id, 99, at=T0 + timedelta(days=30))
    await store.append_messages(conversation_id, [reply])
    assert [m.content for m in await store.all_messages(conversation_id)] == [*contents, reply.content]
    assert [m.content for m in (await store.list_messages(conversation_id, cursor, 3)).items] == contents[1:4]
    assert await store.archive_idle(T0.replace(year=2099)) == 1
    assert await store.count_messages(conversation_id) == 7
