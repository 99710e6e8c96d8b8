"""Every HTTP route of the reference server."""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from reference_server.api.chat import chat
from reference_server.api.conversations import list_conversations, list_messages
from reference_server.api.debug import loop_lag
from reference_server.api.openapi import openapi
from reference_server.api.pages import STATIC_DIR, health, index

ROUTES = [
    Route("/", index, methods=["GET"]),
    Route("/healthz", health, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/api/chat", chat, methods=["POST"]),
    Route("/api/conversations", list_conversations, methods=["GET"]),
    Route("/api/conversations/{conversation_id}/messages", list_messages, methods=["GET"]),
    Route("/api/debug/loop-lag", loop_lag, methods=["GET"]),
    Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
]
