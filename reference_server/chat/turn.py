"""The state of one chat turn as it moves through the pipeline's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

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
