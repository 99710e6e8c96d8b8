"""Transport-neutral events of a chat turn; JSON, SSE and WebSocket each render them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reference_server.errors import ApiError
from reference_server.llm.client import Usage


@dataclass(frozen=True)
class TokenChunk:
    """Answer text to show now (one or more upstream tokens, coalesced)."""

    text: str


@dataclass(frozen=True)
class FinalEvent:
    """The turn is done and durably stored."""

    conversation_id: str
    message_id: str
    reply: str
    model: str
    usage: Usage
    cached: bool = False

    def as_json(self) -> dict[str, Any]:
        """The baseline's JSON reply body (the API contract)."""
        return {
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
            "reply": self.reply,
            "model": self.model,
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            },
        }


@dataclass(frozen=True)
class ErrorEvent:
    """The turn failed; ``status`` is the HTTP status a JSON client gets."""

    code: str
    message: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


ChatEvent = TokenChunk | FinalEvent | ErrorEvent


def error_event(error: ApiError) -> ErrorEvent:
    """The event of a refused turn."""
    return ErrorEvent(code=error.code, message=error.message, status=error.status, headers=error.headers)
