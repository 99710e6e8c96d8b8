"""Wake-ups for readers waiting on a stream, locally and across instances (Redis Pub/Sub).

:class:`Waiters` holds one ``asyncio.Event`` per stream that somebody waits on (and only
while somebody does). :class:`RedisFanout` subscribes to the chunk log's channels (a
stream was written to, a stream should be cancelled) and hands each stream id to that
channel's handler, reconnecting with back-off when Redis goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)


class Waiters:
    """Per-stream wake-up events, present only while at least one reader holds one."""

    def __init__(self) -> None:
        self._events: dict[str, tuple[asyncio.Event, int]] = {}

    def __len__(self) -> int:
        return len(self._events)

    @contextlib.contextmanager
    def hold(self, stream_id: str) -> Iterator[asyncio.Event]:
        """An event set by the next :meth:`wake` of ``stream_id`` (take it *before* reading)."""
        event, holders = self._events.get(stream_id, (None, 0))
        if event is None:
            event = asyncio.Event()
        self._events[stream_id] = (event, holders + 1)
        try:
            yield event
        finally:
            current, count = self._events.get(stream_id, (None, 0))
            if current is event:
                if count <= 1:
                    del self._events[stream_id]
                else:
                    self._events[stream_id] = (event, count - 1)

    def wake(self, stream_id: str) -> None:
        entry = self._events.pop(stream_id, None)
        if entry is not None:
            entry[0].set()

    def wake_all(self) -> None:
        for stream_id in list(self._events):
            self.wake(stream_id)


class RedisFanout:
    """One Pub/Sub subscription per instance: each channel's messages (stream ids) go to its handler.

    ``on_reconnect`` runs after every (re)subscription, for what may have been missed meanwhile.
    """

    def __init__(self, redis: Any, handlers: dict[str, Callable[[str], object]],
                 on_reconnect: Callable[[], object], *, retry_s: float = 1.0) -> None:
        self.redis = redis
        self.handlers = handlers
        self.on_reconnect = on_reconnect
        self.retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="realtime-fanout")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), 2.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*self.handlers)
                self.subscribed.set()
                self.on_reconnect()
                async for message in pubsub.listen():
                    channel, data = message.get("channel"), message.get("data")
                    if isinstance(channel, bytes) and isinstance(data, bytes):
                        self.handlers[channel.decode()](data.decode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis gone: retry after a pause, readers fall back to timeouts
                self.subscribed.clear()
                log.warning("realtime fan-out lost Redis (%s); retrying in %.1fs", type(exc).__name__,
                            self.retry_s)
                await asyncio.sleep(self.retry_s)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
