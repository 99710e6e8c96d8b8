"""Context building: the baseline's full history, and P4's bounded window.

P4 layout: [system] + [running summary] + [last N exchanges that fit the token
budget] + [query]. Token counts are exact (``chatopt.tokens``, as the chat API bills
them). Building the window is plain CPU work, run in the worker pool by the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatopt import tokens
from reference_server.storage.base import Message

ChatMessage = dict[str, str]
SUMMARY_PREFIX = "Summary of the earlier conversation: "


@dataclass(frozen=True)
class WindowLimits:
    """How much history a turn may carry."""

    budget_tokens: int
    max_exchanges: int


@dataclass(frozen=True)
class ContextPlan:
    """The messages sent upstream and what went into them."""

    messages: list[ChatMessage]
    prompt_tokens: int
    history_messages: int
    summary_used: bool


def _as_chat(message: Message) -> ChatMessage:
    return {"role": message.role, "content": message.content}


def full_history(system_prompt: str, history: Sequence[Message], query: str) -> list[ChatMessage]:
    """Everything, every turn: what lagging backends send (no counting needed)."""
    return [
        {"role": "system", "content": system_prompt},
        *(_as_chat(message) for message in history),
        {"role": "user", "content": query},
    ]


def _exchanges(history: Sequence[Message]) -> list[list[Message]]:
    """Group history (oldest first) into exchanges, each starting at a user message."""
    groups: list[list[Message]] = []
    for message in history:
        if message.role == "user" or not groups:
            groups.append([message])
        else:
            groups[-1].append(message)
    return groups


def windowed(
    system_prompt: str,
    summary: str | None,
    history: Sequence[Message],
    query: str,
    limits: WindowLimits,
    model: str | None = None,
) -> ContextPlan:
    """[system] + [summary] + as many of the last ``max_exchanges`` exchanges as fit + [query].

    Newest exchanges are kept first; an exchange is included whole or not at all.
    The query and system prompt are always sent, even over budget.
    """
    head: list[ChatMessage] = [{"role": "system", "content": system_prompt}]
    if summary:
        head.append({"role": "system", "content": SUMMARY_PREFIX + summary})
    tail: list[ChatMessage] = [{"role": "user", "content": query}]
    used = tokens.count_messages(head + tail, model=model)
    kept: list[list[ChatMessage]] = []
    for exchange in reversed(_exchanges(history)[-limits.max_exchanges:] if limits.max_exchanges else []):
        chat = [_as_chat(message) for message in exchange]
        cost = tokens.count_messages(chat, model=model) - tokens.TOKENS_REPLY_PRIMING
        if used + cost > limits.budget_tokens:
            break
        kept.append(chat)
        used += cost
    body = [message for exchange in reversed(kept) for message in exchange]
    return ContextPlan(
        messages=head + body + tail,
        prompt_tokens=used,
        history_messages=len(body),
        summary_used=bool(summary),
    )
