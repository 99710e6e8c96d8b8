"""History: the caller's conversations and a conversation's messages, cursor-paginated (<= 50)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from reference_server.api.identity import require_identity, services_of
from reference_server.errors import ApiError
from reference_server.storage.base import Conversation, InvalidCursor, Message, Page

DEFAULT_CONVERSATIONS_LIMIT = 20
MAX_CONVERSATION_ID_CHARS = 64
MAX_CURSOR_CHARS = 512


def page_limit(request: Request, default: int, maximum: int) -> int:
    """The ``limit`` query parameter: an integer in ``1..maximum``."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"'limit' must be an integer, not {raw!r}") from None
    if not 1 <= limit <= maximum:
        raise ApiError(400, "invalid_parameter", f"'limit' must be between 1 and {maximum}, not {limit}")
    return limit


def cursor_param(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CURSOR_CHARS:
        raise ApiError(400, "invalid_cursor", f"'{name}' is not a cursor this server issued")
    return raw


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "title": conversation.title,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at.isoformat(),
        "model": message.model,
        "complete": message.complete,
    }


def page_json(page: Page[Any], render: Any) -> dict[str, Any]:
    return {"items": [render(item) for item in page.items], "next_cursor": page.next_cursor}


async def list_conversations(request: Request) -> JSONResponse:
    services = services_of(request)
    identity = require_identity(request)
    limit = page_limit(request, DEFAULT_CONVERSATIONS_LIMIT, services.settings.history_page_max)
    cursor = cursor_param(request, "cursor")
    try:
        page = await services.store.list_conversations(identity.user_id, cursor, limit)
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_cursor", f"'cursor' is not a cursor this server issued: {exc}") from exc
    return JSONResponse(page_json(page, conversation_json))


async def list_messages(request: Request) -> JSONResponse:
    services = services_of(request)
    identity = require_identity(request)
    conversation_id = request.path_params["conversation_id"]
    limit = page_limit(request, services.settings.history_page_max, services.settings.history_page_max)
    before = cursor_param(request, "before")
    conversation = None
    if len(conversation_id) <= MAX_CONVERSATION_ID_CHARS:
        conversation = await services.store.get_conversation(conversation_id, identity.user_id)
    if conversation is None:
        raise ApiError(404, "not_found", f"conversation {conversation_id!r} does not exist")
    try:
        page = await services.store.list_messages(conversation.id, before, limit)
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_cursor", f"'before' is not a cursor this server issued: {exc}") from exc
    return JSONResponse(page_json(page, message_json))
