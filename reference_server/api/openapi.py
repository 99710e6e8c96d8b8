"""``GET /openapi.json``: the hand-written OpenAPI 3.1 document of every route.

Packages that add routes describe them with :func:`document_paths` (OpenAPI path
items). An HTTP route nobody described still appears, with its docstring as summary
and a ``default`` response, so the document never misses a route.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from reference_server import __doc__ as server_summary
from reference_server.api.identity import services_of
from reference_server.settings import ServerSettings


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _limit(maximum: int, default: int) -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"Page size, 1-{maximum}.",
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
    }


def _cursor(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


UNAUTHORIZED = _error("Missing, malformed, forged or expired bearer token.")
BAD_PARAMETER = _error("A bad `limit` or cursor.")
RATE_LIMITED = _error("A rate limit was hit; see Retry-After.")
SHEDDING = _error("The server is shedding load; see Retry-After.")


def build_document(settings: ServerSettings) -> dict[str, Any]:
    """The OpenAPI document; limits come from ``settings``."""
    page_max = settings.history_page_max
    timestamps = {"type": "string", "format": "date-time"}
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
        "ChatRequest": {
            "type": "object",
            "required": ["message"],
            "properties": {
                "message": {"type": "string", "minLength": 1, "description": "The user's message."},
                "conversation_id": {
                    "type": ["string", "null"],
                    "maxLength": 64,
                    "description": "Continue this conversation; omit to start a new one.",
                },
            },
        },
        "Usage": {
            "type": "object",
            "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
            "properties": {
                name: {"type": "integer", "minimum": 0}
                for name in ("prompt_tokens", "completion_tokens", "total_tokens")
            },
        },
        "ChatReply": {
            "type": "object",
            "required": ["conversation_id", "message_id", "reply", "model", "usage"],
            "properties": {
                "conversation_id": {"type": "string"},
                "message_id": {"type": "string"},
                "reply": {"type": "string"},
                "model": {"type": "string"},
                "usage": {"$ref": "#/components/schemas/Usage"},
            },
        },
        "Conversation": {
            "type": "object",
            "required": ["id", "title", "created_at", "updated_at"],
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "created_at": timestamps,
                "updated_at": timestamps,
            },
        },
        "Message": {
            "type": "object",
            "required": ["id", "conversation_id", "role", "content", "created_at", "model", "complete"],
            "properties": {
                "id": {"type": "string"},
                "conversation_id": {"type": "string"},
                "role": {"type": "string", "enum": ["system", "user", "assistant"]},
                "content": {"type": "string"},
                "created_at": timestamps,
                "model": {"type": ["string", "null"]},
                "complete": {
                    "type": "boolean",
                    "description": "False for an answer cut short by a disconnect.",
                },
            },
        },
        "ConversationPage": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Conversation"}},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
        "MessagePage": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
        "LoopLag": {
            "type": "object",
            "required": ["profile", "loop_lag", "jobs", "summaries"],
            "properties": {
                "profile": {"type": "string"},
                "loop_lag": {"type": "object"},
                "jobs": {"type": "object"},
                "summaries": {"type": "object"},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "profile"],
            "properties": {"status": {"type": "string"}, "profile": {"type": "string"}},
        },
    }
    secured = [{"bearer": []}]
    chat_responses = {
        "200": {
            "description": "The answer. JSON by default; an event stream when the client sends "
            "`Accept: text/event-stream` and the server streams (events `token` {text}, then `final` "
            "with the ChatReply fields, or `error`).",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ChatReply"}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        "400": _error("The body is not valid JSON."),
        "401": UNAUTHORIZED,
        "404": _error("The conversation does not exist or belongs to someone else."),
        "413": _error("The body is larger than the server accepts."),
        "422": _error("A field is missing, of the wrong type, or refused by input validation."),
        "429": RATE_LIMITED,
        "502": _error("The model endpoint failed."),
        "503": SHEDDING,
        "504": _error("The model did not answer in time."),
    }
    paths: dict[str, Any] = {
        "/api/chat": {
            "post": {
                "summary": "Send a message and get the answer",
                "operationId": "chat",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}},
                },
                "responses": chat_responses,
            }
        },
        "/api/conversations": {
            "get": {
                "summary": "The caller's conversations, most recently updated first",
                "operationId": "listConversations",
                "security": secured,
                "parameters": [
                    _cursor("cursor", "`next_cursor` of the previous page."),
                    _limit(page_max, 20),
                ],
                "responses": {
                    "200": _json("One page of conversations.", "ConversationPage"),
                    "400": BAD_PARAMETER,
                    "401": UNAUTHORIZED,
                    "429": RATE_LIMITED,
                    "503": SHEDDING,
                },
            }
        },
        "/api/conversations/{conversation_id}/messages": {
            "get": {
                "summary": "A conversation's messages, newest page first, oldest first within a page",
                "operationId": "listMessages",
                "security": secured,
                "parameters": [
                    {"name": "conversation_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    _cursor("before", "`next_cursor` of the previous page (older messages)."),
                    _limit(page_max, page_max),
                ],
                "responses": {
                    "200": _json("One page of messages.", "MessagePage"),
                    "400": BAD_PARAMETER,
                    "401": UNAUTHORIZED,
                    "429": RATE_LIMITED,
                    "503": SHEDDING,
                    "404": _error("No such conversation for this user."),
                },
            }
        },
        "/api/debug/loop-lag": {
            "get": {
                "summary": "Event-loop lag (P50/P99/max of recent heartbeats), job queue and summary figures",
                "operationId": "loopLag",
                "parameters": [
                    {
                        "name": "reset",
                        "in": "query",
                        "required": False,
                        "description": "`1` forgets the samples after reading.",
                        "schema": {"type": "string", "enum": ["0", "1"]},
                    }
                ],
                "responses": {"200": _json("Figures of this server process.", "LoopLag")},
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "operationId": "health",
                "responses": {"200": _json("The server is up.", "Health")},
            }
        },
        "/": {
            "get": {
                "summary": "The chat page",
                "operationId": "chatPage",
                "responses": {
                    "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chatopt reference server",
            "version": "1.0.0",
            "description": server_summary or "",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Get a token with `chatopt token --user U`.",
                }
            },
        },
    }


def document_paths(app: Starlette, paths: dict[str, Any]) -> None:
    """Add OpenAPI path items for routes a package installed on ``app``."""
    registered: dict[str, Any] = getattr(app.state, "openapi_paths", {})
    for path, item in paths.items():
        registered.setdefault(path, {}).update(item)
    app.state.openapi_paths = registered


def _undocumented(routes: list[BaseRoute], paths: dict[str, Any]) -> dict[str, Any]:
    """Minimal path items for HTTP routes no one described (WebSocket routes have no OpenAPI form)."""
    found: dict[str, Any] = {}
    for route in routes:
        if not isinstance(route, Route) or route.path in paths:
            continue
        summary = ((route.endpoint.__doc__ or "").strip().splitlines() or [route.path])[0]
        methods = sorted((route.methods or {"GET"}) - {"HEAD"})
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in route.param_convertors
        ]
        operation = {"summary": summary, "responses": {"default": {"description": "See the summary."}}}
        if parameters:
            operation["parameters"] = parameters
        found[route.path] = {method.lower(): dict(operation) for method in methods}
    return found


def full_document(app: Starlette, settings: ServerSettings) -> dict[str, Any]:
    """The core document, the paths packages registered, then every other HTTP route."""
    document = build_document(settings)
    paths = document["paths"]
    for path, item in getattr(app.state, "openapi_paths", {}).items():
        paths.setdefault(path, {}).update(item)
    paths.update(_undocumented(app.routes, paths))
    return document


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(full_document(request.app, services_of(request).settings))
