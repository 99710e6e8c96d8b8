"""What the realtime layer needs from the chat pipeline: one answer as a stream of events.

The transports do not know how an answer is made (cache, routing, LLM); they call a
:data:`ChatRunner` and relay its :data:`ChatEvent` values. Closing the iterator early
(a cancel) must stop the upstream work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from reference_server.auth import Identity


@dataclass(frozen=True)
class ChatRequest:
    """One user message to answer."""

    identity: Identity
    message: str
    conversation_id: str | None = None
    client_msg_id: str | None = None


@dataclass(frozen=True)
class TokenChunk:
    """A piece of the answer's text, in order."""

    text: str


@dataclass(frozen=True)
class Final:
    """The answer is complete and stored; ``reply`` is its whole text."""

    message_id: str | None
    conversation_id: str | None
    model: str | None
    reply: str = ""
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """The answer failed; ``message`` is safe to show the user."""

    code: str
    message: str
    retry_after_s: float | None = None


ChatEvent = TokenChunk | Final | Failure
ChatRunner = Callable[[ChatRequest], AsyncIterator[ChatEvent]]


def event_frame(stream_id: str, seq: int, event: ChatEvent) -> dict[str, Any]:
    """The wire form of one stream event (identical over WebSocket, SSE and long polling)."""
    base: dict[str, Any] = {"stream_id": stream_id, "seq": seq}
    if isinstance(event, TokenChunk):
        return {"type": "token", **base, "text": event.text}
    if isinstance(event, Final):
        return {
            "type": "final",
            **base,
            "message_id": event.message_id,
            "conversation_id": event.conversation_id,
            "model": event.model,
            "reply": event.reply,
            "usage": event.usage,
        }
    frame = {"type": "error", **base, "code": event.code, "message": event.message}
    if event.retry_after_s is not None:
        frame["retry_after_s"] = round(event.retry_after_s, 3)
    return frame
