"""Group commit: appends from many requests share one transaction.

``submit`` queues an append and waits until the transaction holding it has
committed, so a caller that returns from it knows its messages are durable (the
server acknowledges only then). A batch is flushed when it holds ``max_messages``
messages or ``max_delay_s`` after its first append arrived, whichever comes first.
The queue is bounded: when the database falls behind, ``submit`` waits (backpressure)
instead of buffering without limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from reference_server.storage.base import Message, UnknownConversation
from reference_server.storage.operations import WriteResult
from reference_server.storage.records import StoredMessage
from reference_server.storage.retries import is_transient

#: Writes one batch in one transaction.
BatchWriter = Callable[[Sequence[tuple[str, Sequence[Message]]]], Awaitable[WriteResult]]


@dataclass
class _Append:
    conversation_id: str
    messages: list[Message]
    done: asyncio.Future[list[StoredMessage]]


class BufferClosed(RuntimeError):
    """The store is shutting down and takes no more writes."""


class GroupCommitBuffer:
    """A bounded write-behind buffer whose appends return only once committed."""

    def __init__(
        self, write: BatchWriter, *, max_messages: int, max_delay_s: float, max_queued_appends: int
    ) -> None:
        self._write = write
        self._max_messages = max(1, max_messages)
        self._max_delay_s = max_delay_s
        self._queue: asyncio.Queue[_Append | None] = asyncio.Queue(maxsize=max(1, max_queued_appends))
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches_flushed = 0
        self.messages_flushed = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="chatopt-group-commit")

    async def submit(self, conversation_id: str, messages: list[Message]) -> list[StoredMessage]:
        """Queue an append (waiting for room); once committed, the messages it inserted (with seqs)."""
        if self._closing or self._task is None:
            raise BufferClosed("the history store is closed; no more writes are accepted")
        done: asyncio.Future[list[StoredMessage]] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieve_error)
        await self._queue.put(_Append(conversation_id, messages, done))
        # Shielded: a caller that gives up (client gone) does not cancel the write itself.
        return await asyncio.shield(done)

    async def close(self) -> None:
        """Flush everything queued, then stop the flusher."""
        if self._task is None or self._closing:
            return
        self._closing = True
        await self._queue.put(None)
        await self._task

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = await self._fill(batch)
            try:
                await self._flush(batch)
            except Exception as error:  # never leave a caller waiting on a flusher that died
                for item in batch:
                    _fail(item, error)

    async def _fill(self, batch: list[_Append]) -> bool:
        """Add appends until the batch is full or its time is up; True when close() was asked."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_delay_s
        count = len(batch[0].messages)
        while count < self._max_messages:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    return False
            if item is None:
                return True
            batch.append(item)
            count += len(item.messages)
        return False

    async def _flush(self, batch: list[_Append]) -> None:
        try:
            result = await self._write([(item.conversation_id, item.messages) for item in batch])
        except Exception as error:
            if len(batch) == 1 or is_transient(error):
                # The database stayed away for the whole retry window: nobody is acknowledged.
                for item in batch:
                    _fail(item, error)
                return
            # One bad append must not sink the others: write them one by one.
            for item in batch:
                await self._flush([item])
            return
        self.batches_flushed += 1
        for item in batch:
            if item.conversation_id in result.unknown:
                _fail(item, UnknownConversation(f"conversation {item.conversation_id!r} does not exist"))
                continue
            self.messages_flushed += len(item.messages)
            if not item.done.done():
                item.done.set_result(result.inserted(item.messages))


def _fail(item: _Append, error: BaseException) -> None:
    if not item.done.done():
        item.done.set_exception(error)


def _retrieve_error(done: asyncio.Future[list[StoredMessage]]) -> None:
    """Mark a failure as seen even when its caller stopped waiting (no "never retrieved" noise)."""
    if not done.cancelled():
        done.exception()
