"""Context building: the baseline's full history, and P4's bounded window.

P4 layout: [system] + [running summary] + [recent exchanges that fit the token
budget] + [query]. Exchanges the summary already covers are not sent again (beyond
``min_exchanges``), so the window stays small as the conversation grows. Token counts
are exact (``chatopt.tokens``, as the chat API bills them). Building the window is
plain CPU work, run in the worker pool by the pipeline.
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
    """How much history a turn may carry: always the last ``min_exchanges``, at most ``max_exchanges``."""

    budget_tokens: int
    max_exchanges: int
    min_exchanges: int = 1


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
    uncovered: int | None = None,
) -> ContextPlan:
    """[system] + [summary] + the newest exchanges that fit + [query].

    ``uncovered`` is how many of the newest history messages the summary does not
    cover yet (None: no summary, nothing is covered). Newest exchanges are kept
    first, each whole or not at all: the last ``min_exchanges`` always (budget
    permitting), then older ones while they hold uncovered messages, up to
    ``max_exchanges``. The query and system prompt are always sent, even over budget.
    """
    head: list[ChatMessage] = [{"role": "system", "content": system_prompt}]
    if summary:
        head.append({"role": "system", "content": SUMMARY_PREFIX + summary})
    tail: list[ChatMessage] = [{"role": "user", "content": query}]
    used = tokens.count_messages(head + tail, model=model)
    kept: list[list[ChatMessage]] = []
    newer_messages = 0
    recent = _exchanges(history)[-limits.max_exchanges :] if limits.max_exchanges else []
    for position, exchange in enumerate(reversed(recent)):
        covered = uncovered is not None and newer_messages >= uncovered
        if covered and position >= limits.min_exchanges:
            break
        newer_messages += len(exchange)
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
