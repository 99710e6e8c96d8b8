"""The chunk log: every event of every recent answer, numbered, so clients can resume.

:class:`LocalChunkLog` keeps this instance's streams in memory, bounded in streams and
events and expiring ``ttl_s`` after the last event. :class:`RedisChunkLog` mirrors them
into Redis (a sorted set per stream scored by seq, same TTL; re-writing an event is harmless) so
any instance can replay a stream that another instance produced.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_server.realtime.protocol import is_terminal


class StreamTooLong(RuntimeError):
    """An answer produced more events than one stream may keep."""


@dataclass
class StreamRecord:
    """One stream's owner and events (``events[i]["seq"] == i + 1``)."""

    owner: str
    touched: float
    events: list[dict[str, Any]] = field(default_factory=list)
    mirrored: int = 0  # how many of ``events`` are confirmed in Redis

    @property
    def done(self) -> bool:
        return bool(self.events) and is_terminal(self.events[-1])

    def after(self, after_seq: int, limit: int) -> list[dict[str, Any]]:
        return self.events[after_seq:after_seq + limit]


class LocalChunkLog:
    """This instance's streams: at most ``max_streams``, each at most ``max_events`` events."""

    def __init__(self, *, ttl_s: float, max_streams: int, max_events: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_streams = max_streams
        self.max_events = max_events
        self.clock = clock
        self._streams: OrderedDict[str, StreamRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._streams)

    def create(self, stream_id: str, owner: str) -> StreamRecord:
        """Start a stream; the least recently touched ones make room when full."""
        self.evict_expired()
        while len(self._streams) >= self.max_streams:
            self._streams.popitem(last=False)
        record = StreamRecord(owner=owner, touched=self.clock())
        self._streams[stream_id] = record
        return record

    def get(self, stream_id: str) -> StreamRecord | None:
        record = self._streams.get(stream_id)
        if record is not None and self.clock() - record.touched > self.ttl_s:
            del self._streams[stream_id]
            return None
        return record

    def append(self, stream_id: str, record: StreamRecord, event: dict[str, Any]) -> None:
        """Add the next event (its ``seq`` must be ``len(events) + 1``)."""
        if len(record.events) >= self.max_events and not is_terminal(event):
            raise StreamTooLong(f"a stream keeps at most {self.max_events} events")
        record.events.append(event)
        record.touched = self.clock()
        if stream_id in self._streams:
            self._streams.move_to_end(stream_id)

    def evict_expired(self) -> None:
        cutoff = self.clock() - self.ttl_s
        while self._streams:
            stream_id, record = next(iter(self._streams.items()))
            if record.touched >= cutoff:
                break
            del self._streams[stream_id]


class RedisChunkLog:
    """Streams mirrored in Redis: ``{prefix}log:{id}`` (zset by seq), ``{prefix}owner:{id}``, one channel.

    Each write also publishes the stream id on ``{prefix}events`` so every instance can
    wake the readers waiting on that stream.
    """

    def __init__(self, redis: Any, *, prefix: str, ttl_s: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_ms = int(ttl_s * 1000)

    @property
    def channel(self) -> str:
        """Where every write announces its stream id."""
        return f"{self.prefix}events"

    @property
    def cancel_channel(self) -> str:
        """Where a stream id is published to cancel it on whichever instance produces it."""
        return f"{self.prefix}cancel"

    async def publish_cancel(self, stream_id: str) -> None:
        await self.redis.publish(self.cancel_channel, stream_id)

    def _log_key(self, stream_id: str) -> str:
        return f"{self.prefix}log:{stream_id}"

    def _owner_key(self, stream_id: str) -> str:
        return f"{self.prefix}owner:{stream_id}"

    async def write(self, stream_id: str, owner: str, events: list[dict[str, Any]]) -> None:
        """Append ``events`` (the next ones in seq order), refresh TTLs, publish a wake-up."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self._owner_key(stream_id), owner, px=self.ttl_ms)
        if events:
            scored = {json.dumps(e, separators=(",", ":")): e["seq"] for e in events}
            pipe.zadd(self._log_key(stream_id), scored)
            pipe.pexpire(self._log_key(stream_id), self.ttl_ms)
        pipe.publish(self.channel, stream_id)
        await pipe.execute()

    async def owner(self, stream_id: str) -> str | None:
        value = await self.redis.get(self._owner_key(stream_id))
        return value.decode() if isinstance(value, bytes) else value

    async def read(self, stream_id: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
        rows = await self.redis.zrangebyscore(self._log_key(stream_id), f"({after_seq}", "+inf", 0, limit)
        return [json.loads(row) for row in rows]

    async def last(self, stream_id: str) -> dict[str, Any] | None:
        rows = await self.redis.zrange(self._log_key(stream_id), -1, -1)
        return json.loads(rows[0]) if rows else None

    async def claim(self, key: str, value: str) -> str | None:
        """Set ``{prefix}claim:{key}`` if absent; the value already there when it was taken."""
        full_key = f"{self.prefix}claim:{key}"
        if await self.redis.set(full_key, value, px=self.ttl_ms, nx=True):
            return None
        existing = await self.redis.get(full_key)
        return existing.decode() if isinstance(existing, bytes) else existing
