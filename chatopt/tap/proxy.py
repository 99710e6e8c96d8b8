"""The tap itself: an ASGI app that forwards AI calls byte for byte and records each.

Request and response bodies, status and headers pass through untouched (only
hop-by-hop headers are dropped, as any proxy must). Response bytes are forwarded
as they arrive, so a stream stays a stream; the tap looks at a copy of each chunk
after forwarding it, and counts tokens off the event loop once the call is over.
"""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from chatopt import tokens
from chatopt.errors import ChatoptError
from chatopt.tap.calls import AICall
from chatopt.tap.conversations import ConversationTracker, content_text
from chatopt.tap.faults import Fault, FaultPlan
from chatopt.tap.observe import AnswerObserver, RequestFacts, request_facts

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
    }
)


def upstream_url(upstream: str, path: str, query: bytes) -> str:
    """Map an incoming ``/v1/...`` path onto the upstream base URL (with or without ``/v1``)."""
    base = upstream.rstrip("/")
    if path.startswith("/v1") and urlsplit(base).path.endswith("/v1"):
        base = base[: -len("/v1")]
    url = base + path
    return f"{url}?{query.decode('latin-1')}" if query else url


class TapProxy:
    """ASGI app: forward everything to ``upstream`` and record every call as an :class:`AICall`."""

    def __init__(
        self,
        upstream: str,
        *,
        trace_path: Path | None = None,
        faults: FaultPlan | None = None,
        on_call: Callable[[AICall], None] | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        self.upstream = upstream
        self.trace_path = trace_path
        self.faults = faults or FaultPlan()
        self.calls: list[AICall] = []
        self._on_call = on_call
        self._timeout = httpx.Timeout(timeout_s, connect=10.0)
        self._client: httpx.AsyncClient | None = None
        self._tracker = ConversationTracker()
        self._next_id = 0
        self._inflight = 0
        self._settled = threading.Condition()
        self._write_lock = threading.Lock()
        # One worker keeps records in arrival order and token counting off the event loop.
        self._pending: queue.SimpleQueue = queue.SimpleQueue()
        self._recorder: threading.Thread | None = None

    # -- ASGI ---------------------------------------------------------------
    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        with self._settled:
            self._inflight += 1
        try:
            await self._proxy(scope, receive, send)
        finally:
            with self._settled:
                self._inflight -= 1
                self._settled.notify_all()

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
            # No Nagle towards the provider either: a request's body must not wait for the ACK of its headers.
            nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
            transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=nodelay)
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=transport, trust_env=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _read_body(self, receive: Callable) -> bytes:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    async def _proxy(self, scope: dict, receive: Callable, send: Callable) -> None:
        exchange = _Exchange(
            call_id=self._take_id(),
            started_at=time.time(),
            started=time.perf_counter(),
            method=scope["method"],
            path=scope["path"],
            body=await self._read_body(receive),
        )
        exchange.fault = fault = self.faults.take(exchange.path)
        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.status is not None:
            error = fault.error_body()
            await _respond(send, fault.status, error)
            self._finish(exchange, fault.status, None, len(error))
            return
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        url = upstream_url(self.upstream, exchange.path, scope.get("query_string", b""))
        request = httpx.Request(exchange.method, url, headers=headers, content=exchange.body)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            reason = f"chatopt tap: upstream unreachable: {type(exc).__name__}"
            message = json.dumps({"error": {"message": reason, "type": "tap_upstream_error"}}).encode()
            await _respond(send, 502, message)
            exchange.error = f"{type(exc).__name__}: {exc}"
            self._finish(exchange, 502, None, len(message))
            return
        observer = AnswerObserver(
            response.headers.get("content-type", ""),
            response.headers.get("content-encoding", ""),
            exchange.started,
        )
        sent = 0
        # The backend hanging up must stop the upstream too, so the provider stops generating.
        hang_up = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP],
                }
            )
            async for chunk in response.aiter_raw():
                if hang_up.done():
                    exchange.error = "the backend closed the connection before the answer ended"
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
                observer.feed(chunk)
            else:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (httpx.HTTPError, OSError) as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
        finally:
            hang_up.cancel()
            await response.aclose()
        self._finish(exchange, response.status_code, observer, sent)

    # -- recording ----------------------------------------------------------
    def _take_id(self) -> int:
        with self._settled:
            self._next_id += 1
            return self._next_id

    def _finish(self, exchange: _Exchange, status: int, observer: AnswerObserver | None, sent: int) -> None:
        duration_ms = (time.perf_counter() - exchange.started) * 1000
        with self._settled:
            self._inflight += 1  # the record is not written yet: keep the tap unsettled
        if self._recorder is None:
            self._recorder = threading.Thread(
                target=self._record_forever, name="chatopt-tap-recorder", daemon=True
            )
            self._recorder.start()
        self._pending.put((exchange, status, observer, sent, duration_ms))

    def _record_forever(self) -> None:
        while True:
            self._record(*self._pending.get())

    def _record(
        self, exchange: _Exchange, status: int, observer: AnswerObserver | None, sent: int, duration_ms: float
    ) -> None:
        try:
            call = self._build_call(exchange, status, observer, sent, duration_ms)
            with self._write_lock:
                self.calls.append(call)
                if self.trace_path is not None:
                    with self.trace_path.open("a", encoding="utf-8") as trace:
                        trace.write(call.to_json() + "\n")
            if self._on_call is not None:
                self._on_call(call)
        finally:
            with self._settled:
                self._inflight -= 1
                self._settled.notify_all()

    def _build_call(
        self, exchange: _Exchange, status: int, observer: AnswerObserver | None, sent: int, duration_ms: float
    ) -> AICall:
        if observer is not None:
            observer.finish()
        facts = request_facts(exchange.path, exchange.body)
        answer = observer.answer if observer is not None else None
        model = facts.model or (observer.model if observer else None)
        call = AICall(
            id=exchange.call_id,
            started_at=exchange.started_at,
            method=exchange.method,
            path=exchange.path,
            kind=facts.kind,
            status=status,
            model=model,
            stream=facts.stream,
            duration_ms=round(duration_ms, 3),
            request_bytes=len(exchange.body),
            response_bytes=sent,
            chunks=observer.chunks if observer else 0,
            fault=exchange.fault.label if exchange.fault else None,
            error=exchange.error,
        )
        if observer is not None:
            if observer.first_content_ms is not None:
                call.ttft_ms = round(observer.first_content_ms, 3)
            if observer.usage:
                call.usage_prompt_tokens = observer.usage.get("prompt_tokens")
                call.usage_completion_tokens = observer.usage.get("completion_tokens")
        if facts.kind == "chat" and facts.messages:
            _describe_chat(call, facts, answer, model, self._tracker)
        elif facts.kind == "embeddings":
            call.message_count = facts.embedding_inputs
        return call

    def wait_settled(self, timeout_s: float = 5.0) -> bool:
        """Block until no call is in flight and every record is written; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._settled:
            while self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._settled.wait(remaining)
        return True

    def calls_since(self, call_id: int) -> list[AICall]:
        """Calls with an id above ``call_id`` (use ``last_id`` as a bookmark)."""
        with self._write_lock:
            return [call for call in self.calls if call.id > call_id]

    @property
    def last_id(self) -> int:
        with self._settled:
            return self._next_id


@dataclass
class _Exchange:
    """One request passing through, from arrival until its record is written."""

    call_id: int
    started_at: float
    started: float
    method: str
    path: str
    body: bytes
    fault: Fault | None = None
    error: str | None = None


def _describe_chat(
    call: AICall, facts: RequestFacts, answer: str | None, model: str | None, tracker: ConversationTracker
) -> None:
    """Fill in the chat-specific fields: message count, exact tokens, conversation link."""
    call.message_count = len(facts.messages)
    try:
        call.prompt_tokens = tokens.count_messages(facts.messages, model=model)
    except ChatoptError:  # a malformed message list is the backend's bug; record the rest
        call.prompt_tokens = None
    users = [m for m in facts.messages if m.get("role") == "user"]
    call.last_user_message = content_text(users[-1].get("content"))[:500] if users else None
    if answer is not None:
        call.completion_tokens = tokens.count_text(answer, model=model)
    link = tracker.observe(facts.messages, answer if 200 <= call.status < 300 else None)
    call.conversation, call.turn = link.conversation, link.turn
    call.history_messages, call.full_history = link.history_messages, link.full_history


async def _wait_for_disconnect(receive: Callable) -> None:
    """Return once the client's connection is gone (the request body was already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _respond(send: Callable, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
