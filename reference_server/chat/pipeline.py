"""The chat pipeline: one turn as named stages, yielding transport-neutral events.

validate -> admit (limits) -> load conversation -> cache lookup -> route -> build
context -> call the model (whole or streamed) -> persist (durable before the final
event) -> cache store -> offer a background summary job.

Optional stages use the slots of :class:`Services` and run only when their switch
is on. A streamed turn whose client goes away closes the upstream call at once and
keeps the partial answer, stored with ``complete=False``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import anyio

from chatopt import tokens
from reference_server.cache.replay import replay_chunks
from reference_server.chat.coalesce import coalesce
from reference_server.chat.events import ChatEvent, ErrorEvent, FinalEvent, TokenChunk, error_event
from reference_server.chat.hooks import CachedAnswer
from reference_server.chat.turn import Turn
from reference_server.context.complexity import is_complex
from reference_server.context.window import WindowLimits, full_history, windowed
from reference_server.errors import ApiError
from reference_server.llm.client import LLMClient, StreamEnd, UpstreamError, Usage
from reference_server.services import Services
from reference_server.storage.base import Message

TITLE_CHARS = 60
COMPLEX_EXTRA_EXCHANGES = 2


def new_id() -> str:
    return uuid.uuid4().hex


class ChatPipeline:
    """Runs turns against the services of one app."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings

    async def run(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        """Events of one turn: token chunks (streamed turns), then a final or an error event."""
        try:
            await self.validate(turn)
            async with self.admit(turn):
                await self.load_conversation(turn)
                cached = await self.cache_lookup(turn)
                if cached is not None:
                    if turn.stream:  # a hit streams in the same events as a live answer
                        for piece in replay_chunks(cached.reply, self.settings.stream_chunk_tokens):
                            yield TokenChunk(piece)
                    yield await self.persist(turn, cached.reply, cached.model, None, cached=True)
                    return
                await self.route(turn)
                await self.build_context(turn)
                async with contextlib.aclosing(self.answer(turn)) as events:
                    async for event in events:
                        yield event
        except ApiError as exc:
            yield error_event(exc)
        except UpstreamError as exc:
            yield ErrorEvent(code=exc.code, message=exc.message, status=exc.status)

    # --- stages, in order ---------------------------------------------------------------

    async def validate(self, turn: Turn) -> None:
        if not turn.message.strip():
            raise ApiError(422, "invalid_request", "'message' must not be empty")
        if self.settings.input_validation and self.services.input_filter is not None:
            await self.services.input_filter.check(turn)

    def admit(self, turn: Turn) -> AbstractAsyncContextManager[None]:
        if self.settings.rate_limits and self.services.admission is not None:
            return self.services.admission.admit(turn)
        return contextlib.nullcontext()

    async def load_conversation(self, turn: Turn) -> None:
        if turn.conversation_id is None:
            return
        store = self.services.store
        turn.conversation = await store.get_conversation(turn.conversation_id, turn.identity.user_id)
        if turn.conversation is None:
            raise ApiError(404, "not_found", f"conversation {turn.conversation_id!r} does not exist")
        if self.settings.context_window:
            wanted = 2 * (self.settings.context_recent_exchanges + COMPLEX_EXTRA_EXCHANGES)
            limit = min(wanted, self.settings.history_page_max)
            turn.history, summary, total = await asyncio.gather(
                store.recent_messages(turn.conversation.id, limit),
                store.get_summary(turn.conversation.id),
                store.count_messages(turn.conversation.id),
            )
            if summary is not None:
                turn.summary = summary.text
                turn.summary_uncovered = total - summary.message_count
        else:
            turn.history = await store.all_messages(turn.conversation.id)

    async def cache_lookup(self, turn: Turn) -> CachedAnswer | None:
        if self.settings.cache and self.services.cache is not None:
            return await self.services.cache.lookup(turn)
        return None

    async def route(self, turn: Turn) -> None:
        if self.settings.routing and self.services.router is not None:
            turn.model = await self.services.router.choose(turn)
        else:
            turn.model = self.settings.default_model

    async def build_context(self, turn: Turn) -> None:
        settings = self.settings
        if not settings.context_window:
            turn.upstream_messages = full_history(settings.system_prompt, turn.history, turn.message)
            return
        complex_query = is_complex(turn.message)
        if complex_query:
            exchanges = settings.context_recent_exchanges + COMPLEX_EXTRA_EXCHANGES
            limits = WindowLimits(settings.context_complex_budget_tokens, exchanges, min_exchanges=2)
        else:
            limits = WindowLimits(settings.context_budget_tokens, settings.context_recent_exchanges)
        turn.window = await self.services.offload(
            windowed, settings.system_prompt, turn.summary, turn.history, turn.message, limits, turn.model,
            turn.summary_uncovered,
        )
        turn.upstream_messages = turn.window.messages

    def llm_for(self, turn: Turn) -> LLMClient:
        """The LLM client of this turn: the router's (escalation, fallback) when routing is on."""
        if self.settings.routing and self.services.router is not None:
            return self.services.router.llm_for(turn, self.services.llm)
        return self.services.llm

    async def answer(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        if turn.stream and self.settings.streaming:
            final = None
            async with contextlib.aclosing(self.stream_answer(turn)) as events:
                async for event in events:
                    final = event
                    yield event
        else:
            completion = await self.llm_for(turn).complete(turn.upstream_messages, turn.model)
            turn.finish_reason = completion.finish_reason
            final = await self.persist(turn, completion.text, completion.model, completion.usage)
            yield final
        if isinstance(final, FinalEvent):
            await self.after_answer(turn, final)

    async def stream_answer(self, turn: Turn) -> AsyncIterator[TokenChunk | FinalEvent]:
        """P1: chunks as the upstream produces them; a vanished client keeps a partial answer."""
        parts: list[str] = []
        end: StreamEnd | None = None
        chunks = coalesce(
            self.llm_for(turn).stream(turn.upstream_messages, turn.model),
            self.settings.stream_chunk_tokens,
            self.settings.stream_chunk_ms / 1000,
        )
        try:
            async with contextlib.aclosing(chunks):
                async for item in chunks:
                    if isinstance(item, StreamEnd):
                        end = item
                    else:
                        parts.append(item)
                        yield TokenChunk(item)
        except (asyncio.CancelledError, GeneratorExit):
            with anyio.CancelScope(shield=True):
                await self.persist(turn, "".join(parts), turn.model, None, complete=False)
            raise
        if end is None:
            raise UpstreamError("the model stream ended without finishing")
        turn.finish_reason = end.finish_reason
        yield await self.persist(turn, "".join(parts), end.model, end.usage)

    async def persist(
        self, turn: Turn, reply: str, model: str, usage: Usage | None, *, complete: bool = True,
        cached: bool = False,
    ) -> FinalEvent:
        """Store the user message and the answer durably; the final event follows only then."""
        store = self.services.store
        if usage is None:
            usage = await self.services.offload(self._count_usage, turn, reply, model)
        if turn.conversation is None:
            turn.conversation = await store.create_conversation(turn.identity.user_id, _title(turn.message))
        answered_at = max(datetime.now(UTC), turn.received_at + timedelta(microseconds=1))
        question = Message(
            id=new_id(), conversation_id=turn.conversation.id, role="user", content=turn.message,
            created_at=turn.received_at,
        )
        answer = Message(
            id=new_id(), conversation_id=turn.conversation.id, role="assistant", content=reply,
            created_at=answered_at, model=model, prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens, complete=complete,
        )
        await store.append_messages(turn.conversation.id, [question, answer])
        return FinalEvent(
            conversation_id=turn.conversation.id, message_id=answer.id, reply=reply, model=model, usage=usage,
            cached=cached,
        )

    async def after_answer(self, turn: Turn, final: FinalEvent) -> None:
        """Cache store and the background summary offer: after the client has its answer."""
        if self.settings.cache and self.services.cache is not None:
            await self.services.cache.store(turn, final.reply, final.model)
        if self.settings.context_window:
            await self.services.summarizer.schedule_if_due(final.conversation_id)

    @staticmethod
    def _count_usage(turn: Turn, reply: str, model: str) -> Usage:
        prompt = tokens.count_messages(turn.upstream_messages, model=model) if turn.upstream_messages else 0
        return Usage(prompt_tokens=prompt, completion_tokens=tokens.count_text(reply, model=model))


def _title(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"
