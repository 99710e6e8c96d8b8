"""The plug-in points of the chat pipeline; ``Services`` holds one optional object per slot.

Each is filled by its own package (security, cache, routing) and used only when
its switch is on; an empty slot means the stage is skipped.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from reference_server.chat.turn import Turn
    from reference_server.llm.client import LLMClient


@dataclass(frozen=True)
class CachedAnswer:
    """An answer served from the cache instead of the model."""

    reply: str
    model: str


class InputFilter(Protocol):
    """Validates/sanitizes the message; raise ``ApiError`` (e.g. 422) to refuse it."""

    async def check(self, turn: Turn) -> None: ...


class Admission(Protocol):
    """Rate limits and load shedding; the context manager spans the whole turn.

    Entering raises ``ApiError`` (429/503 with ``Retry-After``) to refuse the turn.
    """

    def admit(self, turn: Turn) -> AbstractAsyncContextManager[None]: ...


class AnswerCache(Protocol):
    """Exact + semantic answer cache."""

    async def lookup(self, turn: Turn) -> CachedAnswer | None: ...

    async def store(self, turn: Turn, reply: str, model: str) -> None: ...


class ModelRouter(Protocol):
    """Chooses the model for a turn (light / mid / top) and wraps the LLM client to follow the choice."""

    async def choose(self, turn: Turn) -> str: ...

    def llm_for(self, turn: Turn, llm: LLMClient) -> LLMClient:
        """The client the turn's call goes through (escalation and fallback live there)."""
