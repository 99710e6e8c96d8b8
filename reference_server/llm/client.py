"""The one place the reference server calls the upstream LLM.

One ``AsyncOpenAI`` client per app (pooled keep-alive connections, timeout from
settings, no hidden retries). Every upstream request goes through
:meth:`LLMClient._call` or :meth:`LLMClient._open_stream`, which run it under
``guard``: the seam where retries and a circuit breaker plug in without touching the
chat pipeline.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx2
import openai
from openai import AsyncOpenAI

from reference_server.observability.tracecontext import outgoing_headers
from reference_server.settings import ServerSettings

T = TypeVar("T")
ChatMessage = dict[str, str]


@dataclass(frozen=True)
class Usage:
    """Tokens billed for one call."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Completion:
    """A whole answer; ``usage`` is None when the upstream did not report it."""

    text: str
    model: str
    usage: Usage | None
    finish_reason: str | None = None


@dataclass(frozen=True)
class Delta:
    """A piece of streamed answer text as the upstream sent it."""

    text: str


@dataclass(frozen=True)
class StreamEnd:
    """The end of a stream: the model that answered, its usage (if reported) and why it stopped."""

    model: str
    usage: Usage | None
    finish_reason: str | None = None


class UpstreamError(Exception):
    """The upstream LLM failed; ``code`` and ``status`` are what the API reports."""

    def __init__(self, message: str, *, code: str = "upstream_error", status: int = 502) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class Guard(Protocol):
    """Wraps every upstream call (retries, circuit breaking)."""

    async def call(self, attempt: Callable[[], Awaitable[T]]) -> T: ...


class DirectGuard:
    """No retries, no breaker: each call runs once."""

    async def call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        return await attempt()


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(prompt_tokens=int(raw.prompt_tokens or 0), completion_tokens=int(raw.completion_tokens or 0))


def _upstream_error(exc: openai.OpenAIError, timeout_s: float) -> UpstreamError:
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamError(f"the model did not answer within {timeout_s:g} s", code="upstream_timeout",
                             status=504)
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError("the model endpoint is unreachable", code="upstream_unavailable", status=502)
    if isinstance(exc, openai.APIStatusError):
        return UpstreamError(f"the model endpoint answered HTTP {exc.status_code}", status=502)
    return UpstreamError(f"the model call failed: {exc}", status=502)


class LLMClient:
    """Chat completions, whole or streamed, against ``settings.llm_base_url``."""

    def __init__(self, settings: ServerSettings, guard: Guard | None = None) -> None:
        self.timeout_s = settings.llm_timeout_s
        self.guard: Guard = guard or DirectGuard()
        self._client = AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            timeout=settings.llm_timeout_s,
            max_retries=0,
        )

    async def _call(self, request: dict[str, Any]) -> Any:
        request = {**request, "extra_headers": outgoing_headers()}  # W3C traceparent of the current request
        try:
            return await self.guard.call(lambda: self._client.chat.completions.create(**request))
        except openai.OpenAIError as exc:
            raise _upstream_error(exc, self.timeout_s) from exc

    async def complete(
        self, messages: list[ChatMessage], model: str, max_tokens: int | None = None
    ) -> Completion:
        """The whole answer at once (what the baseline waits for)."""
        request: dict[str, Any] = {"model": model, "messages": messages}
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        response = await self._call(request)
        text = (response.choices[0].message.content or "") if response.choices else ""
        finish_reason = response.choices[0].finish_reason if response.choices else None
        usage = _usage(response.usage)
        return Completion(text=text, model=response.model or model, usage=usage, finish_reason=finish_reason)

    async def _open_stream(self, request: dict[str, Any]) -> tuple[Any, Any]:
        """Send a streaming request through the guard; the open response and its context manager."""
        request = {**request, "extra_headers": outgoing_headers()}  # W3C traceparent of the current request

        async def attempt() -> tuple[Any, Any]:
            manager = self._client.chat.completions.with_streaming_response.create(**request)
            return manager, await manager.__aenter__()

        try:
            return await self.guard.call(attempt)
        except openai.OpenAIError as exc:
            raise _upstream_error(exc, self.timeout_s) from exc

    async def stream(self, messages: list[ChatMessage], model: str) -> AsyncIterator[Delta | StreamEnd]:
        """Deltas as they arrive, then one :class:`StreamEnd`.

        The SSE lines are read raw and parsed with ``json.loads``: building the SDK's
        typed chunk objects cost several times more CPU per token, which under load
        is event-loop lag. Closing the iterator early (client gone) closes the
        upstream connection at once, so the upstream stops generating tokens nobody
        will read.
        """
        manager, response = await self._open_stream(
            {"model": model, "messages": messages, "stream": True, "stream_options": {"include_usage": True}}
        )
        answered_by = model
        usage: Usage | None = None
        finish_reason: str | None = None
        try:
            async for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if chunk.get("error"):
                    raise UpstreamError(f"the model stream failed: {chunk['error'].get('message')}")
                answered_by = chunk.get("model") or answered_by
                if chunk.get("usage"):
                    counts = chunk["usage"]
                    usage = Usage(counts.get("prompt_tokens") or 0, counts.get("completion_tokens") or 0)
                for choice in chunk.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        yield Delta(content)
                    finish_reason = choice.get("finish_reason") or finish_reason
        except httpx2.TimeoutException as exc:
            raise UpstreamError(
                f"the model stopped answering for {self.timeout_s:g} s", code="upstream_timeout", status=504
            ) from exc
        except (httpx2.HTTPError, openai.OpenAIError) as exc:
            raise UpstreamError("the model stream broke off", code="upstream_unavailable") from exc
        except (ValueError, AttributeError) as exc:
            raise UpstreamError("the model stream was not valid chat-completion JSON") from exc
        finally:
            await manager.__aexit__(None, None, None)
        yield StreamEnd(model=answered_by, usage=usage, finish_reason=finish_reason)

    async def close(self) -> None:
        await self._client.close()
