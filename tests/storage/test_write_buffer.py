"""Group commit: batching by size or time, waiting for durability, backpressure, failures."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import OperationalError

from reference_server.storage.base import Message, UnknownConversation
from reference_server.storage.operations import WriteResult
from reference_server.storage.write_buffer import BufferClosed, GroupCommitBuffer
from tests.storage.conftest import make_message

Batch = Sequence[tuple[str, Sequence[Message]]]


class Recorder:
    """A batch writer that records batches, can be held, and fails on request."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail_with: BaseException | None = None
        self.poison = "poison"

    async def __call__(self, batch: Batch) -> WriteResult:
        await self.release.wait()
        self.batches.append([conversation_id for conversation_id, _ in batch])
        if self.fail_with is not None:
            raise self.fail_with
        if any(conversation_id == self.poison for conversation_id, _ in batch):
            raise ValueError("constraint violated")
        seqs = {message.id: index for index, (_, items) in enumerate(batch) for message in items}
        return WriteResult({c for c, _ in batch if c == "missing"}, seqs)


async def _buffer(writer: Recorder, **options: float) -> GroupCommitBuffer:
    settings = {"max_messages": 4, "max_delay_s": 10.0, "max_queued_appends": 16, **options}
    buffer = GroupCommitBuffer(writer, **settings)  # type: ignore[arg-type]
    buffer.start()
    return buffer


async def test_a_full_batch_is_written_at_once_in_one_transaction() -> None:
    writer = Recorder()
    buffer = await _buffer(writer)
    appends = [buffer.submit(f"c{index}", [make_message(f"c{index}", index)]) for index in range(4)]
    stored = await asyncio.wait_for(asyncio.gather(*appends), 5)
    assert writer.batches == [["c0", "c1", "c2", "c3"]]
    assert [len(items) for items in stored] == [1, 1, 1, 1]
    await buffer.close()


async def test_a_lone_append_waits_at_most_the_batch_time() -> None:
    writer = Recorder()
    buffer = await _buffer(writer, max_delay_s=0.02)
    await asyncio.wait_for(buffer.submit("c", [make_message("c", 0)]), 5)
    assert writer.batches == [["c"]] and buffer.batches_flushed == 1
    await buffer.close()


async def test_a_full_queue_makes_writers_wait() -> None:
    writer = Recorder()
    writer.release.clear()
    buffer = await _buffer(writer, max_messages=1, max_queued_appends=2)
    appends = [asyncio.create_task(buffer.submit(f"c{i}", [make_message(f"c{i}", i)])) for i in range(5)]
    for _ in range(20):
        await asyncio.sleep(0)
    # One append is being written, two fill the queue, the other two wait for room.
    assert buffer._queue.full() and not any(task.done() for task in appends)
    writer.release.set()
    await asyncio.wait_for(asyncio.gather(*appends), 5)
    assert sorted(c for batch in writer.batches for c in batch) == [f"c{i}" for i in range(5)]
    await buffer.close()


async def test_a_bad_append_fails_alone() -> None:
    writer = Recorder()
    buffer = await _buffer(writer)
    good = [buffer.submit(c, [make_message(c, 0)]) for c in ("a", "b", "missing")]
    results = await asyncio.wait_for(
        asyncio.gather(*good, buffer.submit("poison", [make_message("poison", 0)]), return_exceptions=True), 5
    )
    assert [type(result) for result in results] == [list, list, UnknownConversation, ValueError]
    await buffer.close()


async def test_a_database_that_stays_away_fails_the_batch_without_retrying_each_append() -> None:
    writer = Recorder()
    writer.fail_with = OperationalError("INSERT", {}, ConnectionRefusedError("down"))
    buffer = await _buffer(writer)
    appends = [buffer.submit(c, [make_message(c, 0)]) for c in ("a", "b", "c", "d")]
    results = await asyncio.wait_for(asyncio.gather(*appends, return_exceptions=True), 5)
    assert all(isinstance(result, OperationalError) for result in results)
    assert len(writer.batches) == 1
    await buffer.close()


async def test_a_caller_that_gives_up_does_not_cancel_the_write() -> None:
    writer = Recorder()
    writer.release.clear()
    buffer = await _buffer(writer, max_messages=1)
    append = asyncio.create_task(buffer.submit("c", [make_message("c", 0)]))
    await asyncio.sleep(0.01)
    append.cancel()
    writer.release.set()
    await buffer.close()
    assert writer.batches == [["c"]]


async def test_close_flushes_what_is_queued_then_refuses_more() -> None:
    writer = Recorder()
    buffer = await _buffer(writer)
    pending = asyncio.create_task(buffer.submit("c", [make_message("c", 0)]))
    await asyncio.sleep(0)
    await asyncio.wait_for(buffer.close(), 5)
    assert pending.done() and writer.batches == [["c"]]
    with pytest.raises(BufferClosed):
        await buffer.submit("c", [make_message("c", 1)])
