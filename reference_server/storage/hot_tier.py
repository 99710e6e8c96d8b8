"""The hot tier: the most recent messages of active conversations in Redis.

Per conversation (keys share a ``{conversation_id}`` hash tag, so they live in one
Redis Cluster slot):

- ``…:msgs`` a list of up to ``capacity`` messages as JSON, oldest first;
- ``…:meta`` a hash: ``gen`` (bumped by every append), ``filled`` (the list is a
  valid copy), ``complete`` (the list holds every message of the conversation),
  ``count`` (messages in the conversation, kept by appends once known),
  ``conversation`` (the conversation record as JSON) and ``summary`` /
  ``summary_count`` (the running summary; a summary covering fewer messages never
  replaces one covering more).

Every operation is one Lua script, so it is atomic. A read-through fill carries the
``gen`` it saw before reading SQL and is dropped if an append bumped it meanwhile, so
a fill can never hide a message committed during it. Both keys expire after ``ttl_s``
without use: only active conversations stay hot. Redis is a cache here; SQL is the truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from reference_server.storage.base import Conversation, Summary
from reference_server.storage.records import StoredMessage

_APPEND = """
redis.call('HINCRBY', KEYS[2], 'gen', 1)
local ttl = tonumber(ARGV[1])
local conversation = redis.call('HGET', KEYS[2], 'conversation')
if conversation then
  local record = cjson.decode(conversation)
  record['updated_at'] = ARGV[3]
  redis.call('HSET', KEYS[2], 'conversation', cjson.encode(record))
end
if redis.call('HEXISTS', KEYS[2], 'count') == 1 then
  redis.call('HINCRBY', KEYS[2], 'count', #ARGV - 3)
end
if redis.call('HGET', KEYS[2], 'filled') == '1' then
  for i = 4, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
  local capacity = tonumber(ARGV[2])
  if redis.call('LLEN', KEYS[1]) > capacity then
    redis.call('LTRIM', KEYS[1], -capacity, -1)
    redis.call('HSET', KEYS[2], 'complete', '0')
  end
  redis.call('EXPIRE', KEYS[1], ttl)
end
redis.call('EXPIRE', KEYS[2], ttl)
return 1
"""

_FILL = """
local gen = redis.call('HGET', KEYS[2], 'gen') or '0'
if gen ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 5, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('HSET', KEYS[2], 'gen', gen, 'filled', '1', 'complete', ARGV[3])
if ARGV[3] == '1' then redis.call('HSET', KEYS[2], 'count', #ARGV - 4) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'conversation', ARGV[4]) end
local ttl = tonumber(ARGV[2])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return 1
"""

_REMEMBER = """
redis.call('HSET', KEYS[1], 'conversation', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""

_REMEMBER_SUMMARY = """
local known = tonumber(redis.call('HGET', KEYS[1], 'summary_count') or '-2')
if tonumber(ARGV[2]) < known then return 0 end
redis.call('HSET', KEYS[1], 'summary', ARGV[3], 'summary_count', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""

_REMEMBER_COUNT = """
local gen = redis.call('HGET', KEYS[1], 'gen') or '0'
if gen ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'gen', gen, 'count', ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""

_READ = """
local meta = redis.call('HMGET', KEYS[2], 'gen', 'filled', 'complete', 'conversation')
local items = {}
local ttl = tonumber(ARGV[1])
if meta[2] == '1' then
  items = redis.call('LRANGE', KEYS[1], 0, -1)
  redis.call('EXPIRE', KEYS[1], ttl)
end
if meta[1] or meta[4] then redis.call('EXPIRE', KEYS[2], ttl) end
return {meta[1] or '0', meta[2] or '0', meta[3] or '0', meta[4] or '', items}
"""


@dataclass(frozen=True)
class HotCopy:
    """What Redis holds for a conversation; ``filled`` False means a miss."""

    gen: str
    filled: bool
    complete: bool
    conversation: Conversation | None
    messages: list[StoredMessage]

    def newest_first(self) -> list[StoredMessage]:
        """The cached messages without duplicates, newest first."""
        unique = {item.message.id: item for item in self.messages}
        return sorted(unique.values(), key=lambda item: item.sort_key, reverse=True)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _json_array(items: list[Any]) -> list[Any]:
    """Decode a list of JSON documents with one parser call (they arrive as bytes or str)."""
    if not items:
        return []
    if isinstance(items[0], bytes):
        return json.loads(b"[" + b",".join(items) + b"]")
    return json.loads("[" + ",".join(items) + "]")


def _conversation_json(conversation: Conversation | None) -> str:
    if conversation is None:
        return ""
    return json.dumps(
        {
            "id": conversation.id,
            "user_id": conversation.user_id,
            "title": conversation.title,
            "created_at": conversation.created_at.isoformat(),
            "updated_at": conversation.updated_at.isoformat(),
        }
    )


def _conversation_from(text: str) -> Conversation | None:
    if not text:
        return None
    data = json.loads(text)
    return Conversation(
        data["id"],
        data["user_id"],
        data["title"],
        datetime.fromisoformat(data["created_at"]),
        datetime.fromisoformat(data["updated_at"]),
    )


class RedisHotTier:
    """Recent messages and the conversation record of active conversations, in Redis."""

    def __init__(
        self, redis: Redis, *, capacity: int, ttl_s: int = 3600, prefix: str = "chatopt:hot:"
    ) -> None:
        self.redis = redis
        self.capacity = capacity
        self.ttl_s = ttl_s
        self.prefix = prefix
        self._append = redis.register_script(_APPEND)
        self._fill = redis.register_script(_FILL)
        self._read = redis.register_script(_READ)
        self._remember = redis.register_script(_REMEMBER)
        self._remember_summary = redis.register_script(_REMEMBER_SUMMARY)
        self._remember_count = redis.register_script(_REMEMBER_COUNT)

    def keys(self, conversation_id: str) -> list[str]:
        base = f"{self.prefix}{{{conversation_id}}}"
        return [f"{base}:msgs", f"{base}:meta"]

    async def read(self, conversation_id: str) -> HotCopy:
        gen, filled, complete, conversation, items = await self._read(
            keys=self.keys(conversation_id), args=[self.ttl_s]
        )
        return HotCopy(
            gen=_text(gen),
            filled=_text(filled) == "1",
            complete=_text(complete) == "1",
            conversation=_conversation_from(_text(conversation)),
            messages=[StoredMessage.from_dict(item) for item in _json_array(items)],
        )

    async def fill(
        self,
        conversation_id: str,
        seen_gen: str,
        conversation: Conversation | None,
        newest_first: list[StoredMessage],
        complete: bool,
    ) -> bool:
        """Replace the copy with SQL's newest messages unless an append happened since ``seen_gen``.

        ``conversation`` (when given) is stored alongside; None leaves the stored record as it is.
        """
        oldest_first = [json.dumps(item.to_dict()) for item in reversed(newest_first[: self.capacity])]
        stored = await self._fill(
            keys=self.keys(conversation_id),
            args=[
                seen_gen,
                self.ttl_s,
                "1" if complete else "0",
                _conversation_json(conversation),
                *oldest_first,
            ],
        )
        return int(stored) == 1

    async def conversation(self, conversation_id: str) -> Conversation | None:
        """The cached conversation record, if any (one HGET, no messages)."""
        return _conversation_from(
            _text(await self.redis.hget(self.keys(conversation_id)[1], "conversation") or "")
        )

    async def count(self, conversation_id: str) -> tuple[str, int | None]:
        """(gen, message count): the count when the copy knows it, with the gen for a later fill."""
        gen, count = await self.redis.hmget(self.keys(conversation_id)[1], ["gen", "count"])
        return _text(gen or "0"), None if count is None else int(count)

    async def remember_count(self, conversation_id: str, seen_gen: str, count: int) -> bool:
        """Keep the message count read from SQL unless an append happened since ``seen_gen``."""
        stored = await self._remember_count(
            keys=self.keys(conversation_id)[1:], args=[seen_gen, self.ttl_s, count]
        )
        return int(stored) == 1

    async def summary(self, conversation_id: str) -> tuple[bool, Summary | None]:
        """(known, summary): whether the copy knows the running summary, and the summary if any."""
        text = await self.redis.hget(self.keys(conversation_id)[1], "summary")
        if text is None:
            return False, None
        data = json.loads(text)
        if not data:
            return True, None
        return True, Summary(data["text"], data["message_count"], datetime.fromisoformat(data["updated_at"]))

    async def remember_summary(self, conversation_id: str, summary: Summary | None) -> bool:
        """Keep the running summary (None: there is none); an older summary never replaces a newer one."""
        if summary is None:
            count, document = -1, "{}"
        else:
            count = summary.message_count
            document = json.dumps(
                {"text": summary.text, "message_count": count, "updated_at": summary.updated_at.isoformat()}
            )
        stored = await self._remember_summary(
            keys=self.keys(conversation_id)[1:], args=[self.ttl_s, count, document]
        )
        return int(stored) == 1

    async def remember(self, conversation: Conversation) -> None:
        """Keep the conversation record (owner, title, times) for ownership checks without SQL."""
        await self._remember(
            keys=self.keys(conversation.id)[1:], args=[self.ttl_s, _conversation_json(conversation)]
        )

    async def append(self, conversation_id: str, stored: list[StoredMessage], updated_at: datetime) -> bool:
        """Write through committed messages (only extends a copy that is already there); True once done."""
        written = await self._append(
            keys=self.keys(conversation_id),
            args=[
                self.ttl_s,
                self.capacity,
                updated_at.isoformat(),
                *(json.dumps(s.to_dict()) for s in stored),
            ],
        )
        return int(written) == 1

    async def forget(self, conversation_ids: list[str]) -> None:
        """Drop the copies of these conversations (they may have missed a write)."""
        if conversation_ids:
            await self.redis.delete(
                *(key for conversation_id in conversation_ids for key in self.keys(conversation_id))
            )
