"""The realtime JSON protocol: what a client may send, what the server answers.

Every frame is one JSON object with a ``type``. Stream events (``token``, ``final``,
``error`` with a ``stream_id``) have the same shape over WebSocket, SSE and long
polling, so a client can switch transports and resume with ``after_seq``.
docs/REALTIME.md is the reader's version of this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: WebSocket close codes the server uses.
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013

MAX_CLIENT_MSG_ID_CHARS = 128
MAX_STREAM_ID_CHARS = 64
TERMINAL_TYPES = frozenset({"final", "error"})


class ProtocolError(ValueError):
    """A client frame the server cannot act on; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SendMessage:
    """``{"type": "message", "message": ..., "conversation_id"?, "client_msg_id"?}``."""

    message: str
    conversation_id: str | None = None
    client_msg_id: str | None = None


@dataclass(frozen=True)
class Ping:
    """``{"type": "ping", "ts"?}``: the server answers ``pong`` echoing ``ts``."""

    ts: Any = None


@dataclass(frozen=True)
class Pong:
    """``{"type": "pong"}``: the answer to the server's heartbeat ``ping``."""


@dataclass(frozen=True)
class Resume:
    """``{"type": "resume", "stream_id": ..., "after_seq": n}``: replay then follow a stream."""

    stream_id: str
    after_seq: int = 0


@dataclass(frozen=True)
class Cancel:
    """``{"type": "cancel", "stream_id": ...}``: stop producing an answer."""

    stream_id: str


ClientFrame = SendMessage | Ping | Pong | Resume | Cancel


def _optional_str(frame: dict[str, Any], name: str, max_chars: int) -> str | None:
    value = frame.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise ProtocolError("bad_request", f"'{name}' must be a non-empty string of <= {max_chars} chars")
    return value


def _stream_id(frame: dict[str, Any]) -> str:
    stream_id = _optional_str(frame, "stream_id", MAX_STREAM_ID_CHARS)
    if stream_id is None:
        raise ProtocolError("bad_request", f"a '{frame['type']}' frame needs 'stream_id'")
    return stream_id


def parse_after_seq(value: Any) -> int:
    """A resume position: a whole number >= 0 (the last ``seq`` the client has)."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError("bad_request", "'after_seq' must be a whole number >= 0 (the last seq received)")
    return value


def parse_client_frame(text: str, max_message_chars: int) -> ClientFrame:
    """One client frame from its JSON text; raises :class:`ProtocolError` saying what to fix."""
    try:
        frame = json.loads(text)
    except ValueError:
        raise ProtocolError("bad_request", "frames must be JSON objects, e.g. {\"type\": \"ping\"}") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ProtocolError("bad_request", "frames must be JSON objects with a string 'type'")
    kind = frame["type"]
    if kind == "message":
        return parse_send_message(frame, max_message_chars)
    if kind == "ping":
        return Ping(ts=frame.get("ts"))
    if kind == "pong":
        return Pong()
    if kind == "resume":
        return Resume(stream_id=_stream_id(frame), after_seq=parse_after_seq(frame.get("after_seq", 0)))
    if kind == "cancel":
        return Cancel(stream_id=_stream_id(frame))
    raise ProtocolError(
        "bad_request", f"unknown frame type {kind!r}: use message, ping, pong, resume or cancel"
    )


def parse_send_message(frame: dict[str, Any], max_message_chars: int) -> SendMessage:
    """The ``message`` frame (also the body of the long-poll ``POST``)."""
    message = frame.get("message")
    if not isinstance(message, str) or not message.strip():
        raise ProtocolError("bad_request", "'message' must be a non-empty string")
    if len(message) > max_message_chars:
        raise ProtocolError(
            "message_too_long", f"'message' has {len(message)} characters; the limit is {max_message_chars}"
        )
    return SendMessage(
        message=message,
        conversation_id=_optional_str(frame, "conversation_id", MAX_STREAM_ID_CHARS),
        client_msg_id=_optional_str(frame, "client_msg_id", MAX_CLIENT_MSG_ID_CHARS),
    )


def encode(frame: dict[str, Any]) -> str:
    """Compact JSON text of a server frame."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def error_frame(code: str, message: str, retry_after_s: float | None = None, **extra: Any) -> dict[str, Any]:
    """An ``error`` frame; ``retry_after_s`` tells the client when trying again makes sense."""
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if retry_after_s is not None:
        frame["retry_after_s"] = round(retry_after_s, 3)
    frame.update(extra)
    return frame


def is_terminal(event: dict[str, Any]) -> bool:
    """True for the last event of a stream (``final`` or ``error``)."""
    return event.get("type") in TERMINAL_TYPES
