"""The mock LLM as a lean ASGI app: OpenAI-compatible routes on a precise token clock.

Routes: ``POST /v1/chat/completions`` (streamed or not), ``POST /v1/embeddings``,
``GET /v1/models``, ``GET /v1/models/{id}``, ``GET /health``. The hot path is raw
ASGI: each answer's SSE bytes are prepared before the first token and every event
is sent at its absolute deadline; events that fall due together share one write.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, TypeVar

from chatopt import tokens as token_counter
from chatopt.embeddings import get_embedder
from chatopt.mockllm import wire
from chatopt.mockllm.answers import bad_answer, compose_answer
from chatopt.mockllm.chunks import AnswerEvents, prepare_answer
from chatopt.mockllm.config import MockConfig, Tier, load_config
from chatopt.mockllm.faults import FAULT_HEADER, FaultHeaderError, FaultPlan, draw_faults, parse_fault_header
from chatopt.mockllm.latency import Schedule, plan_schedule
from chatopt.mockllm.requests import (
    ChatRequest,
    RequestError,
    parse_chat_request,
    parse_embedding_request,
    parse_json_object,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
T = TypeVar("T")

EMBEDDING_ENCODING = "cl100k_base"
# Event-loop timers have millisecond granularity (epoll rounds a wait up to the next ms): a
# stream sleeps until half a millisecond before its next deadline and anything within half a
# millisecond is due, so errors stay within +/-0.5 ms with one wake-up per token, no spinning.
TIMER_SLACK_S = 0.0005
clock = time.perf_counter
MAX_BODY_BYTES = 32 * 1024 * 1024
LARGE_BODY_BYTES = 64 * 1024  # parsing and tokenizing more than this moves off the event loop
_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


class ClientGone(Exception):
    """The client disconnected before the request body arrived; nothing is left to answer."""


class StreamCut(Exception):
    """Raised to drop a connection mid-answer (the injected "stream cut" fault)."""


class _QuietStreamCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], StreamCut))


def quiet_stream_cut_logs(logger_name: str = "uvicorn.error") -> None:
    """Keep the server's log free of tracebacks for the cuts the mock injects on purpose."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(existing, _QuietStreamCuts) for existing in logger.filters):
        logger.addFilter(_QuietStreamCuts())


class MockLLM:
    """An OpenAI-compatible upstream with a latency model, deterministic answers and faults."""

    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self._fault_rng = random.Random(config.seed)
        self._timing_rng = random.Random(config.seed + 1)
        self._ids = itertools.count(1)
        self._created = int(time.time())
        self.active_streams = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        arrived = clock()
        try:
            await self._route(scope, receive, send, arrived)
        except ClientGone:
            return
        except RequestError as exc:
            await _send_json(
                send, exc.status, wire.error_body(exc.message, kind=exc.kind, code=exc.code, param=exc.param)
            )

    async def _route(self, scope: Scope, receive: Receive, send: Send, arrived: float) -> None:
        path = scope["path"].rstrip("/")
        method = scope["method"]
        if path.startswith("/v1/models"):
            _require_method(method, "GET")
            await self._models(send, path.removeprefix("/v1/models").lstrip("/"))
        elif path == "/v1/chat/completions":
            _require_method(method, "POST")
            body = await _read_body(receive)
            request = await _off_loop_if_large(len(body), lambda: parse_chat_request(parse_json_object(body)))
            await self._chat(scope, receive, send, request, arrived, len(body))
        elif path == "/v1/embeddings":
            _require_method(method, "POST")
            data = parse_json_object(await _read_body(receive))
            model = data.get("model") if isinstance(data.get("model"), str) else ""
            if not await _answered_by_fault(self._faults(scope, model), send, receive):
                await self._embeddings(send, data)
        elif path == "/health":
            await _send_json(send, 200, wire.dumps({"status": "ok", "active_streams": self.active_streams}))
        else:
            raise RequestError(
                404,
                f"Unknown path {scope['path']}: the mock serves /v1/chat/completions, "
                "/v1/embeddings and /v1/models.",
                code="unknown_url",
            )

    def tier_for(self, model: str) -> Tier:
        """The latency tier of a model name, or a 404 when the config maps no tier to it."""
        name = self.config.tier_name_for(model)
        if name is None:
            raise RequestError(
                404,
                f"The model '{model}' does not exist in this mock's config.",
                param="model",
                code="model_not_found",
            )
        return self.config.tiers[name]

    async def _models(self, send: Send, model_id: str) -> None:
        if model_id:
            self.tier_for(model_id)
            await _send_json(send, 200, wire.dumps(wire.model_entry(model_id, self._created)))
            return
        entries = [wire.model_entry(name, self._created) for name in self.config.model_names()]
        await _send_json(send, 200, wire.dumps({"object": "list", "data": entries}))

    def _faults(self, scope: Scope, model: str) -> FaultPlan:
        """The header's faults when it is present, else a draw from the model's configured rates."""
        for name, value in scope["headers"]:
            if name == FAULT_HEADER.encode():
                try:
                    return parse_fault_header(value.decode("latin-1"), self.config.faults_for(model))
                except FaultHeaderError as exc:
                    raise RequestError(400, f"{FAULT_HEADER}: {exc}", code="invalid_fault") from None
        return draw_faults(self.config.faults_for(model), self._fault_rng)

    async def _chat(
        self, scope: Scope, receive: Receive, send: Send, request: ChatRequest, arrived: float, body_size: int
    ) -> None:
        tier = self.tier_for(request.model)
        faults = self._faults(scope, request.model)
        if await _answered_by_fault(faults, send, receive):
            return
        prompt_tokens, answer = await _off_loop_if_large(body_size, lambda: self._answer(request, faults))
        schedule = plan_schedule(
            tier,
            prompt_tokens=prompt_tokens,
            completion_tokens=answer.completion_tokens,
            rng=self._timing_rng,
            extra_first_token_ms=faults.extra_first_token_ms,
        )
        completion_id = f"chatcmpl-mock{next(self._ids):012x}"
        headers = [
            (b"x-request-id", completion_id.encode()),
            (b"x-mock-ttft-ms", f"{schedule.time_to_first_token_s * 1000:.3f}".encode()),
            (b"x-mock-cost-usd", f"{tier.cost_usd(prompt_tokens, answer.completion_tokens):.8f}".encode()),
            (b"openai-model", request.model.encode()),
        ]
        created = int(time.time())
        if request.stream:
            writer = wire.ChunkWriter(
                completion_id=completion_id,
                created=created,
                model=request.model,
                include_usage=request.include_usage,
            )
            self.active_streams += 1
            try:
                await _stream(
                    send,
                    receive,
                    writer,
                    answer,
                    schedule,
                    arrived,
                    headers,
                    prompt_tokens,
                    request.include_usage,
                    faults.cut_after_tokens,
                )
            finally:
                self.active_streams -= 1
            return
        await _sleep_until(arrived + schedule.total_s)
        body = wire.completion_body(
            completion_id=completion_id,
            created=created,
            model=request.model,
            text=answer.text,
            finish_reason=answer.finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=answer.completion_tokens,
        )
        if faults.cut_after_tokens is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*_JSON, (b"content-length", str(len(body)).encode()), *headers],
                }
            )
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise StreamCut("injected cut of a non-streamed answer")
        await _send_json(send, 200, body, headers)

    def _answer(self, request: ChatRequest, faults: FaultPlan) -> tuple[int, AnswerEvents]:
        """Count the prompt tokens and prepare the answer's events (cached per messages + seed)."""
        encoding = token_counter.encoding_for_model(request.model).encoding
        prompt_tokens = token_counter.count_messages(request.messages, encoding=encoding)
        seed = self.config.seed if request.seed is None else request.seed
        text = (
            bad_answer(faults.bad_answer, request.messages)
            if faults.bad_answer
            else compose_answer(request.messages, seed=seed, encoding=encoding)
        )
        answer = prepare_answer(
            text,
            encoding=encoding,
            tokens_per_event=self.config.tokens_per_event,
            max_tokens=request.max_tokens,
        )
        return prompt_tokens, answer

    async def _embeddings(self, send: Send, data: dict[str, Any]) -> None:
        request = parse_embedding_request(data)
        texts = request.texts
        if request.token_inputs is not None:
            texts = [token_counter.decode(ids, encoding=EMBEDDING_ENCODING) for ids in request.token_inputs]
            prompt_tokens = sum(len(ids) for ids in request.token_inputs)
        else:
            prompt_tokens = sum(token_counter.count_text(text, encoding=EMBEDDING_ENCODING) for text in texts)
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(None, lambda: get_embedder().embed(texts))
        await _send_json(
            send,
            200,
            wire.embeddings_body(
                vectors,
                model=request.model,
                encoding_format=request.encoding_format,
                prompt_tokens=prompt_tokens,
            ),
        )


async def _stream(
    send: Send,
    receive: Receive,
    writer: wire.ChunkWriter,
    answer: AnswerEvents,
    schedule: Schedule,
    arrived: float,
    headers: list[tuple[bytes, bytes]],
    prompt_tokens: int,
    include_usage: bool,
    cut_after_tokens: int | None,
) -> None:
    """Send one answer's SSE events, each at its absolute deadline after ``arrived``."""
    await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *headers]})
    disconnected = asyncio.ensure_future(receive())
    try:
        offsets = schedule.token_offsets_s
        events = len(answer.pieces)
        deadlines = [arrived + offsets[index] for index in answer.last_token_index]
        first_due = arrived + schedule.time_to_first_token_s
        await _sleep_until(first_due)
        batch = [writer.role()]
        sent = 0
        while sent < events:
            now = clock() + TIMER_SLACK_S
            while sent < events and deadlines[sent] <= now:
                if cut_after_tokens is not None and answer.last_token_index[sent] >= cut_after_tokens:
                    await send({"type": "http.response.body", "body": b"".join(batch), "more_body": True})
                    raise StreamCut("injected cut of a streamed answer")
                batch.append(writer.content(answer.pieces[sent]))
                sent += 1
            if sent == events:
                break
            if batch:
                if disconnected.done():
                    return
                await send({"type": "http.response.body", "body": b"".join(batch), "more_body": True})
                batch = []
            await _sleep_until(deadlines[sent])
        if cut_after_tokens is not None:
            await send({"type": "http.response.body", "body": b"".join(batch), "more_body": True})
            raise StreamCut("injected cut before the end of the stream")
        batch.append(writer.finish(answer.finish_reason))
        if include_usage:
            batch.append(writer.usage(prompt_tokens, answer.completion_tokens))
        batch.append(writer.done())
        await send({"type": "http.response.body", "body": b"".join(batch), "more_body": False})
    finally:
        disconnected.cancel()


async def _off_loop_if_large(body_size: int, work: Callable[[], T]) -> T:
    """Run CPU work on a worker thread when the request is large, so other streams keep their timing."""
    if body_size <= LARGE_BODY_BYTES:
        return work()
    return await asyncio.get_running_loop().run_in_executor(None, work)


async def _sleep_until(deadline: float) -> None:
    """Sleep until ``TIMER_SLACK_S`` before ``deadline`` (on :func:`clock`), never spinning."""
    delay = deadline - clock() - TIMER_SLACK_S
    while delay > 0:
        await asyncio.sleep(delay)
        delay = deadline - clock() - TIMER_SLACK_S


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _require_method(method: str, allowed: str) -> None:
    if method != allowed:
        raise RequestError(
            405, f"Method {method} is not allowed here; use {allowed}.", code="method_not_allowed"
        )


async def _send_json(
    send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON, (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _answered_by_fault(faults: FaultPlan, send: Send, receive: Receive) -> bool:
    """Answer with an injected error, 429 or hang when the plan says so; False: serve normally."""
    if faults.error_status is not None:
        await _send_error_fault(send, faults.error_status)
    elif faults.retry_after_s is not None:
        await _send_rate_limit(send, faults.retry_after_s)
    elif faults.hang_s is not None:
        await _hang(send, receive, faults.hang_s)
    else:
        return False
    return True


async def _send_error_fault(send: Send, status: int) -> None:
    message = {
        500: "The server had an error while processing your request (injected by the mock).",
        502: "Bad gateway (injected by the mock).",
        503: "The engine is currently overloaded, please try again later (injected by the mock).",
    }[status]
    await _send_json(send, status, wire.error_body(message, kind="server_error"))


async def _send_rate_limit(send: Send, retry_after_s: float) -> None:
    body = wire.error_body(
        f"Rate limit reached (injected by the mock). Please try again in {retry_after_s:g}s.",
        kind="requests",
        code="rate_limit_exceeded",
    )
    headers = [
        (b"retry-after", f"{retry_after_s:g}".encode()),
        (b"retry-after-ms", f"{retry_after_s * 1000:.0f}".encode()),
        (b"x-ratelimit-remaining-requests", b"0"),
        (b"x-ratelimit-reset-requests", f"{retry_after_s:g}s".encode()),
    ]
    await _send_json(send, 429, body, headers)


async def _hang(send: Send, receive: Receive, hang_s: float) -> None:
    """Send nothing for ``hang_s`` (or until the client gives up), then answer 504."""
    try:
        message = await asyncio.wait_for(receive(), timeout=hang_s)
    except TimeoutError:
        message = {"type": "timeout"}
    if message["type"] == "http.disconnect":
        return
    await _send_json(
        send,
        504,
        wire.error_body(
            f"The mock hung for {hang_s:g}s (injected fault) and gave up.",
            kind="timeout",
            code="timeout",
        ),
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def warm_up() -> None:
    """Load both token vocabularies now, so the first request does not stall every stream."""
    for name in token_counter.ENCODINGS:
        token_counter.get_encoding(name)


def create_app(config: MockConfig | dict[str, Any] | str | None = None) -> MockLLM:
    """The mock LLM ASGI app for a config (a ``MockConfig``, a dict, a YAML path, or the defaults)."""
    return MockLLM(load_config(config))
