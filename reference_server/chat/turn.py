"""The state of one chat turn as it moves through the pipeline's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reference_server.auth import Identity
from reference_server.context.window import ChatMessage, ContextPlan
from reference_server.storage.base import Conversation, Message


@dataclass
class Turn:
    """One user message and everything the stages learn about it."""

    identity: Identity
    message: str
    conversation_id: str | None
    stream: bool
    client_ip: str | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    conversation: Conversation | None = None
    history: list[Message] = field(default_factory=list)
    summary: str | None = None
    summary_uncovered: int | None = None
    model: str = ""
    upstream_messages: list[ChatMessage] = field(default_factory=list)
    window: ContextPlan | None = None
    finish_reason: str | None = None
    cache_lookup: Any = None  # what the cache stage found (reference_server.cache.CacheLookup)
    route_plan: Any = None  # what the route stage decided (reference_server.routing.RoutePlan)

    def response_headers(self) -> dict[str, str]:
        """What the cache and route stages did, for the response: ``X-Cache`` and ``X-Route``."""
        headers: dict[str, str] = {}
        if self.cache_lookup is not None:
            headers["X-Cache"] = self.cache_lookup.status
        if self.route_plan is not None:
            headers["X-Route"] = self.route_plan.header
        return headers
