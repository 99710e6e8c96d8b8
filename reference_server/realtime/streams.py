"""The stream hub: produce answers into the chunk log and read them back from any instance.

A stream is one answer. Its producer numbers each event (``seq`` 1, 2, ...), appends it
to the local chunk log, mirrors it to Redis (when configured) and wakes every reader.
Readers (WebSocket resume, SSE, long polling) read ``after_seq`` and wait for more, so a
reconnecting client loses nothing and an instance can serve a stream another produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from reference_server.realtime.chat import ChatEvent, Failure, event_frame
from reference_server.realtime.chunklog import LocalChunkLog, RedisChunkLog, StreamRecord, StreamTooLong
from reference_server.realtime.fanout import RedisFanout, Waiters
from reference_server.realtime.protocol import is_terminal

log = logging.getLogger(__name__)

#: Where a producer hands each event to a live connection; raises :class:`SinkGone` to detach.
Sink = Callable[[dict[str, Any]], Awaitable[None]]


class SinkGone(Exception):
    """The connection a producer was feeding is gone; the stream goes on into the log."""


class StreamNotFound(LookupError):
    """No stream with that id on this instance or in Redis (never existed or expired)."""


class StreamStalled(TimeoutError):
    """A followed stream produced nothing for too long (its producer died without ending it)."""


@dataclass(frozen=True)
class StreamRead:
    """Events after a position; ``done`` when they reach the end of a finished stream."""

    events: list[dict[str, Any]]
    done: bool

    @property
    def last_seq(self) -> int | None:
        return self.events[-1]["seq"] if self.events else None


class StreamHub:
    """Streams of this instance, mirrored to Redis when ``redis`` is given."""

    def __init__(
        self,
        *,
        redis: Any | None = None,
        prefix: str = "chatopt:rt:",
        ttl_s: float = 600.0,
        max_streams: int = 10_000,
        max_events: int = 10_000,
        max_claims: int = 100_000,
        read_batch: int = 500,
        redis_timeout_s: float = 0.5,
        redis_retry_s: float = 1.0,
    ) -> None:
        self.local = LocalChunkLog(ttl_s=ttl_s, max_streams=max_streams, max_events=max_events)
        self.waiters = Waiters()
        self.remote = RedisChunkLog(redis, prefix=prefix, ttl_s=ttl_s) if redis is not None else None
        self.fanout = None
        if self.remote is not None:
            handlers = {self.remote.channel: self.waiters.wake,
                        self.remote.cancel_channel: self._cancel_local}
            # After a Redis outage, anything written meanwhile: let every waiter re-read.
            self.fanout = RedisFanout(redis, handlers, self.waiters.wake_all)
        self.ttl_s = ttl_s
        self.read_batch = read_batch
        self.redis_timeout_s = redis_timeout_s
        self.redis_retry_s = redis_retry_s
        self.max_claims = max_claims
        self._claims: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._redis_down_until = 0.0
        self._producers: dict[str, asyncio.Task[None]] = {}

    @property
    def producing(self) -> int:
        """Answers being produced on this instance right now."""
        return len(self._producers)

    async def start(self) -> None:
        if self.fanout is not None:
            await self.fanout.start()

    async def stop(self) -> None:
        """Cancel every producer (each ends its stream with a ``cancelled`` error) and unsubscribe."""
        tasks = list(self._producers.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.fanout is not None:
            await self.fanout.stop()

    # --- producing -----------------------------------------------------------------

    @staticmethod
    def new_stream_id() -> str:
        return uuid.uuid4().hex

    async def open(self, stream_id: str, owner: str) -> StreamRecord:
        """A new, empty stream owned by ``owner``, announced in Redis so other instances can wait on it."""
        record = self.local.create(stream_id, owner)
        if self.remote is not None and self._redis_usable():
            try:
                await asyncio.wait_for(self.remote.write(stream_id, owner, []), self.redis_timeout_s)
            except Exception as exc:
                self._redis_failed(exc)
        return record

    async def claim(self, owner: str, client_msg_id: str, stream_id: str) -> str | None:
        """Bind a client's message id to ``stream_id``; the earlier stream id on a re-send."""
        key = f"{owner}:{client_msg_id}"
        now = time.monotonic()
        known = self._claims.get(key)
        if known is not None and now - known[1] <= self.ttl_s:
            return known[0]
        if self.remote is not None and self._redis_usable():
            try:
                existing = await asyncio.wait_for(self.remote.claim(key, stream_id), self.redis_timeout_s)
            except Exception as exc:
                self._redis_failed(exc)
            else:
                if existing is not None:
                    return existing
        self._claims[key] = (stream_id, now)
        self._claims.move_to_end(key)
        while len(self._claims) > self.max_claims:
            self._claims.popitem(last=False)
        return None

    def spawn(self, stream_id: str, record: StreamRecord, events: AsyncIterator[ChatEvent],
              sink: Sink | None = None) -> asyncio.Task[None]:
        """Run :meth:`produce` as a task the hub tracks until it ends (cancel it to cancel the answer)."""
        task = asyncio.create_task(self.produce(stream_id, record, events, sink), name=f"stream-{stream_id}")
        self._producers[stream_id] = task
        task.add_done_callback(lambda _: self._producers.pop(stream_id, None))
        return task

    async def cancel(self, stream_id: str) -> bool:
        """Stop producing ``stream_id`` here or, through Redis, on the instance that produces it.

        The stream then ends with a ``cancelled`` error; False when nobody could be told.
        """
        if self._cancel_local(stream_id):
            return True
        if self.remote is None or not self._redis_usable():
            return False
        try:
            await asyncio.wait_for(self.remote.publish_cancel(stream_id), self.redis_timeout_s)
        except Exception as exc:
            self._redis_failed(exc)
            return False
        return True

    def _cancel_local(self, stream_id: str) -> bool:
        task = self._producers.get(stream_id)
        if task is None:
            return False
        task.cancel()
        return True

    async def produce(self, stream_id: str, record: StreamRecord, events: AsyncIterator[ChatEvent],
                      sink: Sink | None = None) -> None:
        """Number and log every event of ``events``, feeding ``sink`` while it keeps up.

        ``sink`` applies backpressure: while it waits, this loop does not pull the next
        event, so upstream generation pauses. When ``sink`` raises :class:`SinkGone` the
        stream goes on into the log only, for a later resume.
        """
        try:
            async for event in events:
                frame = event_frame(stream_id, len(record.events) + 1, event)
                await self._append(stream_id, record, frame)
                sink = await _feed(sink, frame)
                if is_terminal(frame):
                    return
            await self._end(stream_id, record, sink, Failure("incomplete", "the answer ended unexpectedly"))
        except StreamTooLong as exc:
            await self._end(stream_id, record, sink, Failure("too_long", str(exc)))
        except asyncio.CancelledError:
            await self._end(stream_id, record, sink, Failure("cancelled", "the answer was cancelled"))
            raise
        except Exception:
            log.exception("realtime stream %s failed", stream_id)
            await self._end(stream_id, record, sink,
                            Failure("internal", "something went wrong; please try again", 1.0))
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _end(self, stream_id: str, record: StreamRecord, sink: Sink | None, failure: Failure) -> None:
        if record.done:
            return
        frame = event_frame(stream_id, len(record.events) + 1, failure)
        await self._append(stream_id, record, frame)
        await _feed(sink, frame)

    async def _append(self, stream_id: str, record: StreamRecord, frame: dict[str, Any]) -> None:
        self.local.append(stream_id, record, frame)
        self.waiters.wake(stream_id)
        if self.remote is None or not (self._redis_usable() or is_terminal(frame)):
            return
        pending = record.events[record.mirrored:]
        try:
            await asyncio.wait_for(self.remote.write(stream_id, record.owner, pending), self.redis_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._redis_failed(exc)
        else:
            record.mirrored += len(pending)

    # --- reading -------------------------------------------------------------------

    async def owner(self, stream_id: str) -> str:
        """Who may read ``stream_id``; raises :class:`StreamNotFound`."""
        record = self.local.get(stream_id)
        if record is not None:
            return record.owner
        if self.remote is not None:
            try:
                owner = await asyncio.wait_for(self.remote.owner(stream_id), self.redis_timeout_s)
            except Exception as exc:
                self._redis_failed(exc)
            else:
                if owner is not None:
                    return owner
        raise StreamNotFound(f"no stream {stream_id!r} here (it never existed or expired)")

    async def read(self, stream_id: str, after_seq: int, wait_s: float) -> StreamRead:
        """Events with ``seq > after_seq``, waiting up to ``wait_s`` for the first one."""
        deadline = time.monotonic() + wait_s
        while True:
            with self.waiters.hold(stream_id) as woken:
                result = await self._fetch(stream_id, after_seq)
                remaining = deadline - time.monotonic()
                if result.events or result.done or remaining <= 0:
                    return result
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), remaining)

    async def follow(self, stream_id: str, after_seq: int, wait_s: float,
                     stall_s: float | None = None) -> AsyncIterator[StreamRead]:
        """Successive reads until the stream is done; an empty read every ``wait_s`` while it is quiet.

        Raises :class:`StreamStalled` after ``stall_s`` (default: the log TTL) without a new event.
        """
        stall_s = self.ttl_s if stall_s is None else stall_s
        progress_at = time.monotonic()
        while True:
            result = await self.read(stream_id, after_seq, min(wait_s, stall_s))
            yield result
            if result.done:
                return
            if result.last_seq is not None:
                after_seq = result.last_seq
                progress_at = time.monotonic()
            elif time.monotonic() - progress_at >= stall_s:
                raise StreamStalled(f"stream {stream_id} produced nothing for {stall_s:g}s")

    async def _fetch(self, stream_id: str, after_seq: int) -> StreamRead:
        record = self.local.get(stream_id)
        if record is not None:
            events = record.after(after_seq, self.read_batch)
            return StreamRead(events, record.done and after_seq + len(events) >= len(record.events))
        if self.remote is None or not self._redis_usable():
            return StreamRead([], False)
        try:
            events = await asyncio.wait_for(
                self.remote.read(stream_id, after_seq, self.read_batch), self.redis_timeout_s
            )
            if events:
                return StreamRead(events, is_terminal(events[-1]))
            last = await asyncio.wait_for(self.remote.last(stream_id), self.redis_timeout_s)
        except Exception as exc:
            self._redis_failed(exc)
            return StreamRead([], False)
        return StreamRead([], last is not None and is_terminal(last) and last["seq"] <= after_seq)

    def _redis_usable(self) -> bool:
        return time.monotonic() >= self._redis_down_until

    def _redis_failed(self, exc: BaseException) -> None:
        if self._redis_usable():
            log.warning("realtime chunk log: Redis unreachable (%s); serving this instance's streams only",
                        type(exc).__name__)
        self._redis_down_until = time.monotonic() + self.redis_retry_s


async def _feed(sink: Sink | None, frame: dict[str, Any]) -> Sink | None:
    """Hand ``frame`` to ``sink``; None once the sink is gone."""
    if sink is None:
        return None
    try:
        await sink(frame)
    except SinkGone:
        return None
    return sink
