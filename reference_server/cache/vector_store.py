"""Semantic-layer vectors persisted in plain Redis, so every instance and restart sees them.

Plain Redis has no vector search (no RediSearch module here), so search runs in each
process (:class:`VectorIndex`) and Redis is the shared source of truth:

* ``{p}v:{id}`` — a hash per entry: float32 vector bytes, partition, query, answer key,
  expiry; it expires with the answer.
* ``{p}v:ids`` — a sorted set of live entry ids scored by expiry (loaded at start-up).
* ``{p}v:log`` — a capped stream of ``add`` / ``del`` events; every instance reads it
  from where it left off to pick up entries written elsewhere. An instance that fell
  behind the cap reloads everything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from reference_server.cache.vectors import VectorEntry

_LOAD_BATCH = 500


@dataclass(frozen=True)
class LogPosition:
    """How far an instance has read the change log: last event id and events seen so far."""

    last_id: str = "0-0"
    seen: int = 0


@dataclass
class VectorChanges:
    """What happened since an instance last looked: new entries, removed ids, and the new position."""

    added: list[VectorEntry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    position: LogPosition = field(default_factory=LogPosition)
    reload_required: bool = False


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisVectorStore:
    """Write-through persistence and change feed for the in-process vector index."""

    def __init__(self, client, key_prefix: str = "chatopt:cache:", *, log_max: int = 100_000) -> None:
        self._redis = client
        self._entry = f"{key_prefix}v:"
        self._ids = f"{key_prefix}v:ids"
        self._log = f"{key_prefix}v:log"
        self.log_max = log_max

    async def add(self, entry: VectorEntry) -> None:
        name = self._entry + entry.id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                name,
                mapping={
                    "v": entry.vector.astype(np.float32).tobytes(),
                    "p": entry.partition,
                    "q": entry.query,
                    "k": entry.key,
                    "e": repr(entry.expires_at),
                },
            )
            pipe.pexpireat(name, int(entry.expires_at * 1000))
            pipe.zadd(self._ids, {entry.id: entry.expires_at})
            pipe.xadd(self._log, {"op": "add", "id": entry.id}, maxlen=self.log_max, approximate=True)
            await pipe.execute()

    async def remove(self, entry_ids: list[str]) -> None:
        if not entry_ids:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(self._entry + i for i in entry_ids))
            pipe.zrem(self._ids, *entry_ids)
            for entry_id in entry_ids:
                pipe.xadd(self._log, {"op": "del", "id": entry_id}, maxlen=self.log_max, approximate=True)
            await pipe.execute()

    async def position(self) -> LogPosition:
        """The current end of the change log (start reading after it)."""
        info = await self._info()
        return LogPosition(info["last"], info["added"]) if info else LogPosition()

    async def _info(self) -> dict[str, str | int] | None:
        try:
            raw = await self._redis.xinfo_stream(self._log)
        except Exception as exc:  # the stream does not exist yet
            if "no such key" in str(exc).lower():
                return None
            raise
        return {
            "last": _text(raw["last-generated-id"]),
            "added": int(raw["entries-added"]),
            "length": int(raw["length"]),
        }

    async def load_all(self, now: float | None = None) -> list[VectorEntry]:
        """Every live entry (expired ids are pruned from the index set on the way)."""
        now = time.time() if now is None else now
        await self._redis.zremrangebyscore(self._ids, "-inf", now)
        ids = [_text(i) for i in await self._redis.zrangebyscore(self._ids, now, "+inf")]
        return await self._fetch(ids)

    async def changes_since(self, position: LogPosition) -> VectorChanges:
        """Entries added and ids removed after ``position``; ``reload_required`` if the log was trimmed."""
        info = await self._info()
        if info is None:
            return VectorChanges(position=position)
        if int(info["added"]) - int(info["length"]) > position.seen:  # unread events were trimmed away
            return VectorChanges(position=await self.position(), reload_required=True)
        events = await self._redis.xrange(self._log, min=f"({position.last_id}", count=self.log_max)
        changes = VectorChanges(
            position=LogPosition(_text(events[-1][0]), position.seen + len(events)) if events else position
        )
        added_ids: list[str] = []
        for _, fields in events:
            op, entry_id = _text(fields[b"op"]), _text(fields[b"id"])
            if op == "add":
                added_ids.append(entry_id)
            else:
                changes.removed.append(entry_id)
                if entry_id in added_ids:
                    added_ids.remove(entry_id)
        changes.added = await self._fetch(added_ids)
        return changes

    async def _fetch(self, ids: list[str]) -> list[VectorEntry]:
        entries: list[VectorEntry] = []
        for start in range(0, len(ids), _LOAD_BATCH):
            chunk = ids[start : start + _LOAD_BATCH]
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry_id in chunk:
                    pipe.hmget(self._entry + entry_id, "v", "p", "q", "k", "e")
                rows = await pipe.execute()
            for entry_id, (vector, partition, query, key, expires) in zip(chunk, rows, strict=True):
                if vector is None:
                    continue  # expired or removed meanwhile
                entries.append(
                    VectorEntry(
                        id=entry_id,
                        partition=_text(partition),
                        vector=np.frombuffer(vector, dtype=np.float32).copy(),
                        query=_text(query),
                        key=_text(key),
                        expires_at=float(expires),
                    )
                )
        return entries
