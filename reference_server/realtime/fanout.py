"""Wake-ups for readers waiting on a stream, locally and across instances (Redis Pub/Sub).

:class:`Waiters` holds one ``asyncio.Event`` per stream that somebody waits on (and only
while somebody does). :class:`RedisFanout` subscribes to the chunk log's channel and
wakes local waiters when any instance writes to a stream, reconnecting with back-off
when Redis goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
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
    """One Pub/Sub subscription per instance that turns remote writes into local wake-ups."""

    def __init__(self, redis: Any, channel: str, waiters: Waiters, *, retry_s: float = 1.0) -> None:
        self.redis = redis
        self.channel = channel
        self.waiters = waiters
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
                await pubsub.subscribe(self.channel)
                self.subscribed.set()
                # Anything written while we were away: let every waiter re-read.
                self.waiters.wake_all()
                async for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        self.waiters.wake(data.decode())
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
