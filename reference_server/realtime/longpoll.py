"""Long polling, the fallback when neither WebSocket nor SSE gets through.

``POST /api/realtime/messages`` starts an answer and returns its ``stream_id`` (202);
``GET /api/realtime/streams/{id}/poll?after_seq=n&wait_s=25`` returns the events after
``n`` as soon as there is one (or an empty list after ``wait_s``);
``POST /api/realtime/streams/{id}/cancel`` stops the answer. Same events, same ``seq``
numbers and the same resume rule as the WebSocket.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reference_server.auth import InvalidToken
from reference_server.realtime.credentials import identity_of
from reference_server.realtime.httperrors import error_response
from reference_server.realtime.protocol import ProtocolError, parse_after_seq, parse_send_message
from reference_server.realtime.streams import StreamNotFound

if TYPE_CHECKING:
    from reference_server.realtime.service import Realtime

MAX_WAIT_S = 30.0
DEFAULT_WAIT_S = 25.0

Endpoint = Callable[[Request], Awaitable[Response]]


async def _read_json_body(request: Request, max_bytes: int) -> dict:
    """The body as a JSON object, refusing more than ``max_bytes`` before parsing anything."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ProtocolError("body_too_large", f"the request body is limited to {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ProtocolError("body_too_large", f"the request body is limited to {max_bytes} bytes")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise ProtocolError("bad_request", "the body must be JSON, e.g. {\"message\": \"hello\"}") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_request", "the body must be a JSON object, e.g. {\"message\": \"hello\"}")
    return data


_STATUS_OF = {"body_too_large": 413, "message_too_long": 413}


def start_message(realtime: Realtime) -> Endpoint:
    """``POST /api/realtime/messages`` bound to ``realtime``."""

    async def endpoint(request: Request) -> Response:
        settings = realtime.settings
        try:
            identity = identity_of(request, settings.secret)
        except InvalidToken as exc:
            return error_response(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"})
        try:
            frame = parse_send_message(await _read_json_body(request, settings.max_body_bytes),
                                       settings.max_message_chars)
        except ProtocolError as exc:
            return error_response(_STATUS_OF.get(exc.code, 422), exc.code, exc.message)
        if realtime.at_capacity:
            return error_response(503, "overloaded", "the server is at capacity; try again shortly", 2.0)
        decision = await realtime.throttle(identity)
        if not decision.allowed:
            return error_response(
                429, "rate_limited",
                f"at most {realtime.throttle_policy.limit} messages per minute; wait before sending more",
                decision.retry_after_s, headers=decision.headers())
        started = await realtime.start_answer(identity, frame.message, frame.conversation_id,
                                              frame.client_msg_id)
        base = f"/api/realtime/streams/{started.stream_id}"
        return JSONResponse(
            {"stream_id": started.stream_id, "client_msg_id": frame.client_msg_id,
             "duplicate": started.duplicate, "poll_url": f"{base}/poll", "events_url": f"{base}/events"},
            status_code=202,
        )

    return endpoint


def poll_stream(realtime: Realtime) -> Endpoint:
    """``GET /api/realtime/streams/{stream_id}/poll`` bound to ``realtime``."""

    async def endpoint(request: Request) -> Response:
        try:
            identity = identity_of(request, realtime.settings.secret)
        except InvalidToken as exc:
            return error_response(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"})
        stream_id = request.path_params["stream_id"]
        try:
            after_seq = parse_after_seq(request.query_params.get("after_seq", "0"))
            wait_s = _parse_wait(request.query_params.get("wait_s"))
        except ProtocolError as exc:
            return error_response(422, exc.code, exc.message)
        try:
            await realtime.check_reader(identity, stream_id)
        except StreamNotFound as exc:
            return error_response(404, "not_found", str(exc))
        result = await realtime.hub.read(stream_id, after_seq, wait_s)
        return JSONResponse({
            "stream_id": stream_id,
            "events": result.events,
            "done": result.done,
            "after_seq": result.last_seq if result.last_seq is not None else after_seq,
        })

    return endpoint


def cancel_stream(realtime: Realtime) -> Endpoint:
    """``POST /api/realtime/streams/{stream_id}/cancel`` bound to ``realtime``."""

    async def endpoint(request: Request) -> Response:
        try:
            identity = identity_of(request, realtime.settings.secret)
        except InvalidToken as exc:
            return error_response(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"})
        stream_id = request.path_params["stream_id"]
        try:
            await realtime.check_reader(identity, stream_id)
        except StreamNotFound as exc:
            return error_response(404, "not_found", str(exc))
        if not await realtime.hub.cancel(stream_id):
            return error_response(409, "not_running", f"stream {stream_id!r} is not being produced any more")
        return JSONResponse({"stream_id": stream_id, "cancelling": True}, status_code=202)

    return endpoint


def _parse_wait(value: str | None) -> float:
    if value is None:
        return DEFAULT_WAIT_S
    try:
        wait_s = float(value)
    except ValueError:
        wait_s = -1.0
    if not 0 <= wait_s <= MAX_WAIT_S:
        raise ProtocolError("bad_request", f"'wait_s' must be a number of seconds from 0 to {MAX_WAIT_S:g}")
    return wait_s
