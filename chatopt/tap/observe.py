"""Reading what passes through the tap: the request body and the (streamed) answer.

The proxy forwards bytes untouched; these helpers only look at copies of them.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestFacts:
    """What the backend asked its AI provider for."""

    kind: str
    model: str | None = None
    stream: bool | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    embedding_inputs: int | None = None


def request_facts(path: str, body: bytes) -> RequestFacts:
    """Parse an OpenAI-style request body; anything unreadable is an ``other`` call."""
    if path.endswith("/chat/completions"):
        kind = "chat"
    else:
        kind = "embeddings" if path.endswith("/embeddings") else "other"
    try:
        payload = json.loads(body) if body else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return RequestFacts(kind=kind)
    if not isinstance(payload, dict):
        return RequestFacts(kind=kind)
    messages = payload.get("messages")
    inputs = payload.get("input")
    return RequestFacts(
        kind=kind,
        model=payload.get("model") if isinstance(payload.get("model"), str) else None,
        stream=bool(payload.get("stream")) if kind == "chat" else None,
        messages=[m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else [],
        embedding_inputs=(len(inputs) if isinstance(inputs, list) else 1) if inputs is not None else None,
    )


class _Decoder:
    """Undo ``gzip``/``deflate`` on a copy of the body so the tap can read it."""

    def __init__(self, content_encoding: str) -> None:
        encoding = content_encoding.lower().strip()
        self.readable = encoding in ("", "identity", "gzip", "deflate")
        self._zlib = (
            zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
            if (encoding in ("gzip", "deflate"))
            else None
        )

    def feed(self, data: bytes) -> bytes:
        if not self.readable:
            return b""
        if self._zlib is None:
            return data
        try:
            return self._zlib.decompress(data)
        except zlib.error:
            self.readable = False
            return b""


class AnswerObserver:
    """Follows a response as it streams: first content time, answer text, usage.

    ``feed`` only notes each chunk and when it was forwarded, so the forwarding path stays
    as cheap as a list append; ``finish`` (run off the event loop) does all the parsing.
    """

    MAX_BODY = 8 * 1024 * 1024

    def __init__(self, content_type: str, content_encoding: str, started: float) -> None:
        self.sse = "text/event-stream" in content_type.lower()
        self._decoder = _Decoder(content_encoding)
        self._started = started
        self._received: list[tuple[float, bytes]] = []
        self._size = 0
        self._buffer = bytearray()
        self._parts: list[str] = []
        self.first_content_ms: float | None = None
        self.usage: dict[str, Any] | None = None
        self.model: str | None = None

    @property
    def chunks(self) -> int:
        return len(self._received)

    def feed(self, data: bytes) -> None:
        """Note one chunk just forwarded to the backend (parsed later, in :meth:`finish`)."""
        if self._size < self.MAX_BODY:
            self._received.append((time.perf_counter(), data))
            self._size += len(data)

    def finish(self) -> None:
        """Parse what was forwarded: SSE events with their arrival times, or one JSON body."""
        for at, data in self._received:
            plain = self._decoder.feed(data)
            if not plain:
                continue
            if not self.sse:
                self._buffer.extend(plain)
                continue
            self._buffer.extend(plain.replace(b"\r\n", b"\n"))
            while (end := self._buffer.find(b"\n\n")) >= 0:
                event = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                self._read_event(event, at)
        if self.sse:
            if self._buffer.strip():
                self._read_event(bytes(self._buffer), self._received[-1][0])
            return
        try:
            payload = json.loads(self._buffer) if self._buffer else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        if isinstance(payload, dict):
            self._read_payload(payload, delta=False)
            if self._parts:
                self.first_content_ms = (self._received[-1][0] - self._started) * 1000

    @property
    def answer(self) -> str | None:
        return "".join(self._parts) if self._parts or self.sse else None

    def _read_event(self, event: bytes, at: float) -> None:
        data = b"".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))
        if not data or data == b"[DONE]":
            return
        try:
            payload = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        if isinstance(payload, dict):
            had_content = bool(self._parts)
            self._read_payload(payload, delta=True)
            if not had_content and self._parts and self.first_content_ms is None:
                self.first_content_ms = (at - self._started) * 1000

    def _read_payload(self, payload: dict[str, Any], *, delta: bool) -> None:
        if isinstance(payload.get("model"), str):
            self.model = payload["model"]
        if isinstance(payload.get("usage"), dict):
            self.usage = payload["usage"]
        for choice in payload.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            part = (choice.get("delta") if delta else choice.get("message")) or {}
            content = part.get("content") if isinstance(part, dict) else None
            if isinstance(content, str) and content:
                self._parts.append(content)
