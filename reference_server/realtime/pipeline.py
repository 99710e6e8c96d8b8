"""The reference server's chat pipeline as a realtime :data:`ChatRunner`.

Each realtime message becomes one streamed :class:`Turn` of the same pipeline the HTTP
API uses (validation, limits, cache, routing, context, LLM, durable storage), so the
transports add no behaviour of their own to an answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from reference_server.chat.events import ErrorEvent, FinalEvent
from reference_server.chat.events import TokenChunk as PipelineChunk
from reference_server.chat.pipeline import ChatPipeline
from reference_server.chat.turn import Turn
from reference_server.realtime.chat import ChatEvent, ChatRequest, ChatRunner, Failure, Final, TokenChunk
from reference_server.services import Services


def _retry_after(event: ErrorEvent) -> float | None:
    value = event.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def pipeline_runner(services: Callable[[], Services]) -> ChatRunner:
    """A runner over ``ChatPipeline(services())`` (a callable: the services exist only once the app runs)."""

    async def run(request: ChatRequest) -> AsyncIterator[ChatEvent]:
        turn = Turn(identity=request.identity, message=request.message,
                    conversation_id=request.conversation_id, stream=True)
        async with contextlib.aclosing(ChatPipeline(services()).run(turn)) as events:
            async for event in events:
                if isinstance(event, PipelineChunk):
                    yield TokenChunk(event.text)
                elif isinstance(event, FinalEvent):
                    usage = event.usage
                    yield Final(
                        message_id=event.message_id, conversation_id=event.conversation_id, model=event.model,
                        reply=event.reply,
                        usage={"prompt_tokens": usage.prompt_tokens,
                               "completion_tokens": usage.completion_tokens,
                               "total_tokens": usage.total_tokens},
                    )
                elif isinstance(event, ErrorEvent):
                    yield Failure(event.code, event.message, _retry_after(event))

    return run
