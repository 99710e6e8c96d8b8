"""Which conversation an AI call belongs to, and whether it re-sent the whole history.

Backends rarely tag their upstream calls with a conversation id, so the tap links a
call to an earlier one by content: if the messages of a call contain the user
message and the answer of an earlier call (as a user -> assistant pair), it is the
next turn of that conversation. The call "sent the full history" when every dialogue
message the conversation has had so far (every earlier call's messages and answers)
is in it, in order; a windowed or summarized prompt drops some of them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_INSTRUCTION_ROLES = ("system", "developer")


def _digest(*parts: str) -> str:
    hasher = hashlib.blake2b(digest_size=8)
    for part in parts:
        hasher.update(part.strip().encode("utf-8", "replace"))
        hasher.update(b"\x00")
    return hasher.hexdigest()


def _message_digest(message: Mapping[str, Any]) -> str:
    return _digest(str(message.get("role", "")), content_text(message.get("content")))


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a content list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return str(content)


@dataclass(frozen=True)
class TurnLink:
    """Where a call sits: conversation id, turn number, history it carried."""

    conversation: str
    turn: int
    history_messages: int
    full_history: bool | None


@dataclass
class _Turn:
    conversation: str
    turn: int
    transcript: list[str]  # digests of every dialogue message of the conversation so far, with the answer


class ConversationTracker:
    """Links chat calls into conversations by the content they carry (thread-safe)."""

    def __init__(self, remember: int = 10_000) -> None:
        self._turns: OrderedDict[str, _Turn] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def observe(self, messages: Sequence[Mapping[str, Any]], answer: str | None) -> TurnLink:
        """Link a call (its request ``messages`` and the ``answer`` it got) to its conversation."""
        dialogue = [m for m in messages if isinstance(m, Mapping) and m.get("role") not in _INSTRUCTION_ROLES]
        digests = [_message_digest(m) for m in dialogue]
        history = max(len(dialogue) - 1, 0)
        with self._lock:
            previous = self._latest_known_turn(dialogue)
            if previous is None:
                conversation = _digest(*digests[:1]) if digests else _digest("empty")
                link = TurnLink(conversation, 1, history, None if history else False)
            else:
                full = _is_subsequence(previous.transcript, digests)
                link = TurnLink(previous.conversation, previous.turn + 1, history, full)
            if answer is not None and dialogue:
                # The conversation so far: what earlier turns carried, plus anything new, plus the answer.
                known = previous.transcript if previous else []
                seen = set(known)
                transcript = [*known, *(d for d in digests if d not in seen), _digest("assistant", answer)]
                key = _digest(content_text(dialogue[-1].get("content")), answer)
                self._turns[key] = _Turn(link.conversation, link.turn, transcript)
                self._turns.move_to_end(key)
                while len(self._turns) > self._remember:
                    self._turns.popitem(last=False)
        return link

    def _latest_known_turn(self, dialogue: list[Mapping[str, Any]]) -> _Turn | None:
        for index in range(len(dialogue) - 2, 0, -1):
            user, assistant = dialogue[index - 1], dialogue[index]
            if user.get("role") == "user" and assistant.get("role") == "assistant":
                key = _digest(content_text(user.get("content")), content_text(assistant.get("content")))
                found = self._turns.get(key)
                if found is not None:
                    return found
        return None


def _is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    position = 0
    for item in haystack:
        if position < len(needle) and item == needle[position]:
            position += 1
    return position == len(needle)
