"""``POST /api/chat``: one turn as JSON (the baseline contract) or as SSE when asked and enabled."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reference_server.api.conversations import MAX_CONVERSATION_ID_CHARS
from reference_server.api.errors import error_response
from reference_server.api.identity import require_identity, services_of
from reference_server.api.sse import EventStreamResponse
from reference_server.chat.events import ErrorEvent, FinalEvent
from reference_server.chat.pipeline import ChatPipeline
from reference_server.chat.turn import Turn
from reference_server.errors import ApiError


async def read_json_body(request: Request, max_bytes: int) -> Any:
    """The parsed JSON body; 413 when larger than ``max_bytes``, 400 when not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "payload_too_large", f"the request body is over {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise ApiError(413, "payload_too_large", f"the request body is over {max_bytes} bytes")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from exc


def parse_chat_body(body: Any) -> tuple[str, str | None]:
    """``(message, conversation_id)`` of a chat request body, or a 422 saying which field is wrong."""
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_request", 'the body must be a JSON object like {"message": "hello"}')
    if "message" not in body:
        raise ApiError(422, "invalid_request", "the field 'message' is required")
    message = body["message"]
    if not isinstance(message, str):
        raise ApiError(422, "invalid_request", "the field 'message' must be a string")
    conversation_id = body.get("conversation_id")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise ApiError(422, "invalid_request", "the field 'conversation_id' must be a string or null")
    if conversation_id is not None and not 0 < len(conversation_id) <= MAX_CONVERSATION_ID_CHARS:
        raise ApiError(404, "not_found", f"conversation {conversation_id!r} does not exist")
    return message, conversation_id


def wants_event_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "").lower()


async def chat(request: Request) -> Response | EventStreamResponse:
    services = services_of(request)
    identity = require_identity(request)
    body = await read_json_body(request, services.settings.max_body_bytes)
    message, conversation_id = parse_chat_body(body)
    stream = wants_event_stream(request) and services.settings.streaming
    turn = Turn(
        identity=identity,
        message=message,
        conversation_id=conversation_id,
        stream=stream,
        client_ip=request.client.host if request.client else None,
    )
    events = ChatPipeline(services).run(turn)
    if stream:
        return EventStreamResponse(events, headers=turn.response_headers)
    final: FinalEvent | None = None
    async for event in events:
        if isinstance(event, ErrorEvent):
            return error_response(event.status, event.code, event.message,
                                  {**turn.response_headers(), **event.headers})
        if isinstance(event, FinalEvent):
            final = event
    if final is None:
        raise ApiError(502, "upstream_error", "the model produced no answer")
    return JSONResponse(final.as_json(), headers=turn.response_headers())
