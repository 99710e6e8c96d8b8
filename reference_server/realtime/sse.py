"""Server-Sent Events: the middle transport, for networks that block WebSocket upgrades.

``GET /api/realtime/streams/{id}/events?after_seq=n`` replays and follows one stream as
``text/event-stream`` (``id:`` is the ``seq``), so ``EventSource`` resumes by itself with
``Last-Event-ID`` after a reconnect. A comment line every heartbeat keeps proxies from
timing the connection out.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from reference_server.auth import InvalidToken
from reference_server.realtime.credentials import identity_of
from reference_server.realtime.httperrors import error_response
from reference_server.realtime.protocol import ProtocolError, error_frame, parse_after_seq
from reference_server.realtime.streams import StreamNotFound, StreamStalled

if TYPE_CHECKING:
    from reference_server.realtime.service import Realtime


def sse_event(event: dict[str, Any]) -> str:
    """One event in ``text/event-stream`` framing."""
    lines = [f"event: {event['type']}", f"data: {json.dumps(event, separators=(',', ':'))}"]
    if "seq" in event:
        lines.insert(0, f"id: {event['seq']}")
    return "\n".join(lines) + "\n\n"


def stream_events(realtime: Realtime) -> Callable[[Request], Awaitable[Response]]:
    """``GET /api/realtime/streams/{stream_id}/events`` bound to ``realtime``."""

    async def endpoint(request: Request) -> Response:
        try:
            identity = identity_of(request, realtime.settings.secret)
        except InvalidToken as exc:
            return error_response(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"})
        stream_id = request.path_params["stream_id"]
        try:
            after_seq = parse_after_seq(
                request.headers.get("last-event-id") or request.query_params.get("after_seq", "0")
            )
        except ProtocolError as exc:
            return error_response(422, exc.code, exc.message)
        try:
            await realtime.check_reader(identity, stream_id)
        except StreamNotFound as exc:
            return error_response(404, "not_found", str(exc))

        async def body() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            heartbeat_s = realtime.settings.ws_heartbeat_s
            try:
                async for batch in realtime.hub.follow(stream_id, after_seq, heartbeat_s):
                    if batch.events:
                        yield "".join(sse_event(event) for event in batch.events)
                    else:
                        yield ": keep-alive\n\n"
            except StreamStalled as exc:
                yield sse_event(error_frame("stalled", str(exc), 1.0, stream_id=stream_id))

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return endpoint
