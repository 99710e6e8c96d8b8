"""Server-sent events for a chat turn, with client-disconnect detection that cancels the turn.

The response waits for the turn's first event: a refusal before any answer text
becomes a plain JSON error with its status; otherwise an ``text/event-stream`` of
``token`` events and one ``final`` (or ``error``) event follows. When the client
goes away, the turn is cancelled at once (which closes the upstream call).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

from reference_server.api.errors import error_response
from reference_server.chat.events import ChatEvent, ErrorEvent, FinalEvent, TokenChunk

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def render_event(event: ChatEvent) -> bytes:
    """One SSE frame: ``event: token|final|error`` and a JSON ``data`` line."""
    name: str
    payload: dict[str, Any]
    if isinstance(event, TokenChunk):
        name, payload = "token", {"text": event.text}
    elif isinstance(event, FinalEvent):
        name, payload = "final", event.as_json()
    else:
        name, payload = "error", event.as_json()
    return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class EventStreamResponse:
    """ASGI response rendering a turn's events as SSE (see module docstring)."""

    def __init__(
        self, events: AsyncGenerator[ChatEvent, None], headers: Callable[[], dict[str, str]] | None = None
    ) -> None:
        self.events = events
        self.headers = headers  # read once the first event is out (e.g. X-Cache, X-Route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                await _wait_for_disconnect(receive)
                group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                await self._send_events(scope, receive, send)
            finally:
                with anyio.CancelScope(shield=True):
                    await self.events.aclose()
            group.cancel_scope.cancel()

    async def _send_events(self, scope: Scope, receive: Receive, send: Send) -> None:
        first = await anext(self.events, None)
        extra = self.headers() if self.headers is not None else {}
        if isinstance(first, ErrorEvent):
            response = error_response(first.status, first.code, first.message, {**extra, **first.headers})
            await response(scope, receive, send)
            return
        headers = SSE_HEADERS + [(name.lower().encode(), value.encode()) for name, value in extra.items()]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if first is not None:
            await send({"type": "http.response.body", "body": render_event(first), "more_body": True})
        async for event in self.events:
            await send({"type": "http.response.body", "body": render_event(event), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
