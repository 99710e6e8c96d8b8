"""Input limits: the request body is capped before anything parses it; a chat message has a length cap.

``BodySizeLimitMiddleware`` refuses a declared ``Content-Length`` over the cap at once and
stops reading a streamed body the moment it passes the cap (413 either way), so no handler
ever buffers an oversized body. ``check_message`` applies the character limit with a
message that states it.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_server.security.rejection import Rejection


def check_message(text: object, max_chars: int) -> str:
    """The message, stripped, or a ``Rejection`` saying what is wrong and what the limit is."""
    if not isinstance(text, str):
        raise Rejection(422, "invalid_message", "The message must be a string of text.")
    stripped = text.strip()
    if not stripped:
        raise Rejection(422, "empty_message", "The message is empty; type something to send.")
    if "\x00" in stripped:
        raise Rejection(422, "invalid_message", "The message contains a NUL character; remove it.")
    if len(stripped) > max_chars:
        raise Rejection(
            413,
            "message_too_long",
            f"The message is {len(stripped):,} characters long; the limit is {max_chars:,}. Shorten it.",
        )
    return stripped


class BodySizeLimitMiddleware:
    """ASGI middleware: 413 when an HTTP request body exceeds ``max_bytes`` (checked before parsing).

    A declared ``Content-Length`` is checked up front (the server enforces it while reading);
    a body without one is read here, at most ``max_bytes`` of it, and replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": {
            "code": "body_too_large",
            "message": f"The request body is larger than the limit of {self.max_bytes:,} bytes.",
        }}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})
