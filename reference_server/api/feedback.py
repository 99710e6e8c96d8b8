"""``POST /api/feedback``: thumbs up or down on an answer; thumbs down evicts it from the cache.

Body: ``{"conversation_id": "...", "message_id": "...", "rating": "up" | "down"}``. The
message must be an assistant answer in one of the caller's conversations. On ``down`` the
cache entry that would serve that same answer to that same question again is removed
(from both layers, on every instance), so the next ask goes to the model.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from reference_server.api.chat import read_json_body
from reference_server.api.identity import require_identity, services_of
from reference_server.cache.install import PipelineCache
from reference_server.errors import ApiError

RATINGS = ("up", "down")
MAX_ID_CHARS = 200


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise ApiError(422, "invalid_request", f"the field '{name}' must be a non-empty string")
    return value


async def feedback(request: Request) -> JSONResponse:
    """Rate an answer up or down; down removes it from the answer cache (see the module docstring)."""
    services = services_of(request)
    identity = require_identity(request)
    body = await read_json_body(request, services.settings.max_body_bytes)
    if not isinstance(body, dict):
        example = '{"conversation_id": "...", "message_id": "...", "rating": "down"}'
        raise ApiError(422, "invalid_request", f"the body must be a JSON object like {example}")
    conversation_id, message_id = _field(body, "conversation_id"), _field(body, "message_id")
    rating = body.get("rating")
    if rating not in RATINGS:
        raise ApiError(422, "invalid_request", "the field 'rating' must be 'up' or 'down'")
    conversation = await services.store.get_conversation(conversation_id, identity.user_id)
    if conversation is None:
        raise ApiError(404, "not_found", f"conversation {conversation_id!r} does not exist")
    messages = await services.store.all_messages(conversation.id)
    position = next((i for i, m in enumerate(messages) if m.id == message_id), None)
    if position is None or messages[position].role != "assistant":
        raise ApiError(404, "not_found", f"answer {message_id!r} is not in conversation {conversation_id!r}")
    invalidated = 0
    question_at = position - 1
    if rating == "down" and isinstance(services.cache, PipelineCache) and question_at >= 0:
        question = messages[question_at]
        history = [{"role": m.role, "content": m.content} for m in messages[:question_at]]
        invalidated = await services.cache.forget(
            identity.user_id, question.content, history, messages[position].content
        )
    return JSONResponse({"message_id": message_id, "rating": rating, "cache_entries_removed": invalidated})
