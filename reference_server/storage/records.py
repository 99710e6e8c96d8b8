"""Stored messages with their sequence number, and their plain-dict form.

The sequence number breaks ties between messages with equal timestamps and is the
second half of every message cursor; the hot tier (Redis) and the cold archive keep
it, so a cursor issued by one tier stays valid in another.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reference_server.storage.base import Message


@dataclass(frozen=True)
class StoredMessage:
    """A message as stored: its insertion sequence number and the message."""

    seq: int
    message: Message

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return (self.message.created_at, self.seq)

    def to_dict(self) -> dict[str, Any]:
        message = self.message
        return {
            "seq": self.seq,
            "id": message.id,
            "conversation_id": message.conversation_id,
            "role": message.role,
            "content": message.content,
            "created_at": message.created_at.isoformat(),
            "model": message.model,
            "prompt_tokens": message.prompt_tokens,
            "completion_tokens": message.completion_tokens,
            "complete": message.complete,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredMessage:
        return cls(
            seq=int(data["seq"]),
            message=Message(
                id=data["id"],
                conversation_id=data["conversation_id"],
                role=data["role"],
                content=data["content"],
                created_at=datetime.fromisoformat(data["created_at"]),
                model=data["model"],
                prompt_tokens=data["prompt_tokens"],
                completion_tokens=data["completion_tokens"],
                complete=data["complete"],
            ),
        )


def encode_archive(stored: list[StoredMessage]) -> bytes:
    """Every message of a conversation as one compressed JSON document (the cold tier's form)."""
    document = json.dumps([item.to_dict() for item in stored], separators=(",", ":"))
    return zlib.compress(document.encode(), level=6)


def decode_archive(payload: bytes) -> list[StoredMessage]:
    """The messages of an archive blob, oldest first."""
    return [StoredMessage.from_dict(item) for item in json.loads(zlib.decompress(payload))]
