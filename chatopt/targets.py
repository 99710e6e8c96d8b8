"""How chatopt talks to someone else's chat backend: target profiles and one chat exchange.

A :class:`Target` says where to send a message (URL, method, headers), what the request
body looks like (a template with ``{message}``, ``{messages}``, ``{history}``,
``{conversation_id}``, ``{user_id}``, ``{model}`` placeholders), and how to read the
answer: plain JSON, SSE events (OpenAI chunks or custom), NDJSON lines or WebSocket
frames. Built-in profiles are ``openai`` (chat completions) and ``reference`` (the
bundled server); anything else is a YAML file with the same fields.

The wire parsers (:class:`SSEDecoder`, :class:`NDJSONDecoder`) and the
:class:`ExchangeRecorder` state machine are pure: they take bytes and timestamps, so the
asyncio client here (:func:`send_chat`, used by audit and pre-flight) and the gevent
client of the load generator share every line of parsing and timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatopt import tokens as token_counter
from chatopt.errors import ChatoptError

ResponseMode = Literal["auto", "json", "sse", "ndjson", "websocket"]
HistoryOwner = Literal["server", "client"]
ErrorKind = Literal["connect", "tls", "timeout", "http", "protocol", "no_content", "closed", "server"]

_PLACEHOLDER = re.compile(r"\{(message|conversation_id|user_id|model)\}")
_WHOLE_PLACEHOLDER = re.compile(r"^\{(message|messages|history|conversation_id|user_id|model)\}$")


class Target(BaseModel):
    """A chat backend profile: how to send one message and where the answer is."""

    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    url: str = Field("", description="full URL, or a base URL that `path` is appended to")
    path: str = Field("", description="appended to a base URL given on the command line")
    method: str = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(default_factory=lambda: {"message": "{message}"})
    mode: ResponseMode = "auto"
    model: str | None = None
    history: HistoryOwner = "server"
    answer_path: str | None = Field(None, description="JSON path of the answer text in a JSON reply")
    delta_path: str | None = Field(None, description="JSON path of the text in one stream event")
    usage_path: str | None = "usage"
    conversation_id_path: str | None = None
    type_path: str | None = Field(None, description="JSON path naming a stream event's kind")
    end_types: list[str] = Field(default_factory=list, description="event kinds that end the answer")
    error_types: list[str] = Field(default_factory=list, description="event kinds that report a failure")
    error_path: str | None = "error"
    done_sentinel: str | None = "[DONE]"
    timeout_s: float = Field(60.0, gt=0)
    verify_tls: bool = True

    def with_overrides(
        self, *, url: str | None = None, model: str | None = None, headers: Mapping[str, str] | None = None
    ) -> Target:
        """A copy with the command line's URL, model and extra headers applied."""
        update: dict[str, Any] = {}
        if url:
            update["url"] = resolve_url(url, self.path)
        if model:
            update["model"] = model
        if headers:
            update["headers"] = {**self.headers, **headers}
        return self.model_copy(update=update)


BUILTIN_TARGETS: dict[str, Target] = {
    "openai": Target(
        name="openai",
        path="/v1/chat/completions",
        body={
            "model": "{model}",
            "messages": "{messages}",
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        mode="auto",
        model="gpt-4o-mini",
        history="client",
        answer_path="choices.0.message.content",
        delta_path="choices.0.delta.content",
        usage_path="usage",
    ),
    "reference": Target(
        name="reference",
        path="/api/chat",
        headers={"Accept": "text/event-stream"},
        body={"message": "{message}", "conversation_id": "{conversation_id}"},
        mode="auto",
        history="server",
        answer_path="reply",
        delta_path="text",
        usage_path="usage",
        conversation_id_path="conversation_id",
        end_types=["final"],
        error_types=["error"],
    ),
    "reference-ws": Target(
        name="reference-ws",
        path="/ws",
        body={"type": "message", "message": "{message}", "conversation_id": "{conversation_id}"},
        mode="websocket",
        history="server",
        delta_path="text",
        usage_path="usage",
        conversation_id_path="conversation_id",
        type_path="type",
        end_types=["final"],
        error_types=["error"],
    ),
}


def resolve_url(base: str, path: str) -> str:
    """Join a base URL and a profile's path unless the base already names the endpoint."""
    base = base.rstrip("/")
    if not path or base.endswith(path.rstrip("/")):
        return base
    if base.endswith("/v1") and path.startswith("/v1/"):
        return base + path[3:]
    return base + path


def load_target(
    spec: str,
    *,
    url: str | None = None,
    model: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Target:
    """A target from a built-in name or a YAML file, with command-line overrides applied."""
    if spec in BUILTIN_TARGETS:
        target = BUILTIN_TARGETS[spec]
    else:
        path = Path(spec)
        if not path.is_file():
            raise ChatoptError(
                f"unknown target {spec!r}",
                hint=f"use one of {', '.join(BUILTIN_TARGETS)} or a YAML profile file (see docs/METRICS.md)",
            )
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ChatoptError(f"cannot read target profile {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ChatoptError(
                f"{path} must hold a mapping of profile fields", hint="e.g. url: ..., mode: sse"
            )
        data.setdefault("name", path.stem)
        data["headers"] = {
            key: os.path.expandvars(str(value)) for key, value in (data.get("headers") or {}).items()
        }
        try:
            target = Target(**data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ChatoptError(f"{path}: field {where!r}: {first['msg']}") from exc
    target = target.with_overrides(url=url, model=model, headers=headers)
    if not target.url:
        raise ChatoptError(
            f"no URL for target {target.name!r}", hint="pass the backend URL, e.g. http://host:8000"
        )
    if not re.match(r"^(https?|wss?)://", target.url):
        raise ChatoptError(f"URL {target.url!r} must start with http://, https://, ws:// or wss://")
    return target


def parse_header(line: str) -> tuple[str, str]:
    """``'Name: value'`` as a pair; raises a clear error for anything else."""
    name, sep, value = line.partition(":")
    if not sep or not name.strip():
        raise ChatoptError(
            f"bad header {line!r}", hint="write it as 'Name: value', e.g. 'Authorization: Bearer T'"
        )
    return name.strip(), value.strip()


def get_path(data: Any, path: str | None) -> Any:
    """The value at a dotted JSON path (``choices.0.delta.content``), or None when absent."""
    if path is None:
        return None
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif (
            isinstance(current, Sequence)
            and not isinstance(current, str | bytes)
            and part.lstrip("-").isdigit()
        ):
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def render_body(template: Any, values: Mapping[str, Any]) -> Any:
    """Fill a body template: a string that is only a placeholder takes the raw value (a list, None)."""
    if isinstance(template, str):
        whole = _WHOLE_PLACEHOLDER.match(template)
        if whole:
            return values.get(whole.group(1))
        return _PLACEHOLDER.sub(
            lambda m: "" if values.get(m.group(1)) is None else str(values[m.group(1)]), template
        )
    if isinstance(template, Mapping):
        return {key: render_body(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render_body(item, values) for item in template]
    return template


@dataclass(frozen=True)
class ChatRequest:
    """One rendered request: everything a client needs to send it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def build_request(
    target: Target,
    message: str,
    *,
    conversation_id: str | None = None,
    user_id: str | None = None,
    history: Sequence[Mapping[str, str]] = (),
) -> ChatRequest:
    """Render the target's body template for one message."""
    history_list = [dict(turn) for turn in history] if target.history == "client" else []
    values = {
        "message": message,
        "messages": [*history_list, {"role": "user", "content": message}],
        "history": history_list,
        "conversation_id": conversation_id,
        "user_id": user_id,
        "model": target.model,
    }
    body = render_body(target.body, values)
    headers = {"Content-Type": "application/json", **target.headers}
    return ChatRequest(target.method.upper(), target.url, headers, json.dumps(body).encode())


@dataclass(frozen=True)
class SSEEvent:
    """One server-sent event: its ``event:`` name and joined ``data:`` lines."""

    event: str
    data: str


class SSEDecoder:
    """Incremental SSE parser: feed bytes as they arrive, get complete events."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = "message"

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Complete events in ``chunk`` plus what was buffered before."""
        self._buffer += chunk
        events: list[SSEEvent] = []
        while True:
            cut = self._next_line_end()
            if cut is None:
                return events
            end, width = cut
            line = self._buffer[:end].decode("utf-8", errors="replace")
            self._buffer = self._buffer[end + width :]
            if not line:
                if self._data:
                    events.append(SSEEvent(self._event, "\n".join(self._data)))
                self._data = []
                self._event = "message"
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value or "message"

    def close(self) -> list[SSEEvent]:
        """An event left without its blank line when the stream ended."""
        events = self.feed(b"\n\n") if self._buffer or self._data else []
        return events

    def _next_line_end(self) -> tuple[int, int] | None:
        lf = self._buffer.find(b"\n")
        cr = self._buffer.find(b"\r")
        if cr == -1 and lf == -1:
            return None
        if cr != -1 and (lf == -1 or cr < lf):
            if cr + 1 == len(self._buffer):
                return None  # a \r\n may be split across reads
            return (cr, 2) if self._buffer[cr + 1 : cr + 2] == b"\n" else (cr, 1)
        return lf, 1


class NDJSONDecoder:
    """Incremental newline-delimited JSON splitter: complete, non-blank lines."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[str]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [text for line in lines if (text := line.decode("utf-8", errors="replace").strip())]

    def close(self) -> list[str]:
        rest, self._buffer = self._buffer.decode("utf-8", errors="replace").strip(), b""
        return [rest] if rest else []


@dataclass
class ChatExchange:
    """The timeline and content of one chat request, as the client saw it.

    Times are ``time.perf_counter()`` seconds. ``started`` is when the request was
    meant to start (the scheduled start under open-loop load); ``sent`` is when it was.
    """

    started: float
    sent: float = 0.0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = ""
    chunk_times: list[float] = field(default_factory=list)
    chunk_texts: list[str] = field(default_factory=list)
    ended: float = 0.0
    answer: str = ""
    usage: dict[str, Any] | None = None
    conversation_id: str | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None
    sample: str = ""

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def first_content_at(self) -> float | None:
        return self.chunk_times[0] if self.chunk_times else None

    @property
    def ttft_s(self) -> float | None:
        """Start to the first non-empty content delta."""
        first = self.first_content_at
        return None if first is None else first - self.started

    @property
    def e2e_s(self) -> float:
        return self.ended - self.started

    @property
    def itl_s(self) -> list[float]:
        """Every gap between consecutive content chunks."""
        times = self.chunk_times
        return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]

    def output_tokens(self, model: str | None = None) -> tuple[int, str]:
        """Output tokens and where the count came from: ``usage`` or ``tiktoken``."""
        completion = (self.usage or {}).get("completion_tokens") or (self.usage or {}).get("output_tokens")
        if isinstance(completion, int) and completion > 0:
            return completion, "usage"
        return token_counter.count_text(self.answer, model=model), "tiktoken"

    def tpot_s(self, model: str | None = None) -> float | None:
        """(E2E - TTFT) / (tokens - 1); None with fewer than two tokens."""
        ttft = self.ttft_s
        tokens, _ = self.output_tokens(model)
        if ttft is None or tokens < 2:
            return None
        return (self.e2e_s - ttft) / (tokens - 1)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class ExchangeRecorder:
    """Turns a response's status, headers and body bytes into a :class:`ChatExchange`.

    Call :meth:`on_headers` once, :meth:`on_bytes` for each read (JSON, SSE, NDJSON) or
    :meth:`on_message` for each WebSocket frame, then :meth:`finish`. :attr:`done` turns
    true when the stream said it ended, so a client may stop reading.
    """

    def __init__(self, target: Target, exchange: ChatExchange) -> None:
        self.target = target
        self.exchange = exchange
        self.done = False
        self._body = bytearray()
        self._sse = SSEDecoder()
        self._ndjson = NDJSONDecoder()

    def on_headers(self, status: int, headers: Mapping[str, str]) -> None:
        exchange = self.exchange
        exchange.status = status
        exchange.headers = {key.lower(): value for key, value in headers.items()}
        exchange.mode = self._detect_mode(exchange.headers.get("content-type", ""))

    def _detect_mode(self, content_type: str) -> str:
        if self.target.mode != "auto":
            return self.target.mode
        content_type = content_type.lower()
        if "text/event-stream" in content_type:
            return "sse"
        if "ndjson" in content_type or "jsonl" in content_type or "json-seq" in content_type:
            return "ndjson"
        return "json"

    def on_bytes(self, now: float, data: bytes) -> None:
        """Record one read of the response body at time ``now``."""
        if len(self.exchange.sample) < 300:
            self.exchange.sample += data[:300].decode("utf-8", errors="replace")
        if self.exchange.status >= 400 or self.exchange.mode == "json":
            self._body += data
        elif self.exchange.mode == "sse":
            for event in self._sse.feed(data):
                self._on_event(now, event.data, event.event)
        else:
            for line in self._ndjson.feed(data):
                self._on_event(now, line, None)

    def on_message(self, now: float, frame: str | bytes) -> None:
        """Record one WebSocket frame at time ``now``."""
        text = frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame
        if len(self.exchange.sample) < 300:
            self.exchange.sample += text[:300]
        self._on_event(now, text, None)

    def fail(self, now: float, kind: ErrorKind, message: str) -> ChatExchange:
        """End the exchange with an error (first error wins)."""
        exchange = self.exchange
        if exchange.error_kind is None:
            exchange.error_kind, exchange.error = kind, message
        exchange.ended = exchange.ended or now
        self.done = True
        return exchange

    def finish(self, now: float) -> ChatExchange:
        """Close the exchange at ``now``: parse a JSON body, check an answer was found."""
        exchange = self.exchange
        if exchange.error_kind is not None:
            exchange.ended = exchange.ended or now
            return exchange
        if exchange.status >= 400:
            detail = bytes(self._body[:200]).decode("utf-8", errors="replace").strip()
            return self.fail(now, "http", f"HTTP {exchange.status}: {detail}")
        if exchange.mode == "json":
            self._parse_json_body(now)
        elif exchange.mode == "sse":
            for event in self._sse.close():
                self._on_event(now, event.data, event.event)
        elif exchange.mode == "ndjson":
            for line in self._ndjson.close():
                self._on_event(now, line, None)
        if exchange.error_kind is None and not exchange.chunk_times:
            where = self.target.answer_path if exchange.mode == "json" else self.target.delta_path
            return self.fail(
                now, "no_content", f"no answer text at {where!r} in the {exchange.mode} response"
            )
        exchange.ended = exchange.ended or now
        return exchange

    def _parse_json_body(self, now: float) -> None:
        try:
            data = json.loads(bytes(self._body))
        except ValueError:
            self.fail(now, "protocol", "the response body is not JSON")
            return
        if self._record_error(now, data):
            return
        text = get_path(data, self.target.answer_path) if self.target.answer_path else None
        self._record_metadata(data)
        if isinstance(text, str) and text:
            self._add_chunk(now, text)
        self.done = True

    def _on_event(self, now: float, payload: str, event_name: str | None) -> None:
        if self.done:
            return
        target = self.target
        if target.done_sentinel is not None and payload.strip() == target.done_sentinel:
            self.done = True
            self.exchange.ended = now
            return
        try:
            data = json.loads(payload)
        except ValueError:
            if target.delta_path is None:
                self._add_chunk(now, payload)
                return
            self.fail(now, "protocol", f"a stream event is not JSON: {payload[:80]!r}")
            return
        if not isinstance(data, Mapping):
            self.fail(now, "protocol", f"a stream event is not a JSON object: {payload[:80]!r}")
            return
        kind = get_path(data, target.type_path) if target.type_path else event_name
        if kind in target.error_types or self._record_error(now, data):
            if self.exchange.error_kind is None:
                self.fail(now, "server", str(data.get("message") or data.get("code") or payload[:200]))
            return
        self._record_metadata(data)
        text = get_path(data, target.delta_path) if target.delta_path else None
        if isinstance(text, str) and text:
            self._add_chunk(now, text)
        if kind in target.end_types:
            self.done = True
            self.exchange.ended = now

    def _record_error(self, now: float, data: Any) -> bool:
        error = get_path(data, self.target.error_path) if isinstance(data, Mapping) else None
        if not error:
            return False
        message = get_path(error, "message") if isinstance(error, Mapping) else error
        self.fail(now, "server", f"the backend reported an error: {message}")
        return True

    def _record_metadata(self, data: Any) -> None:
        usage = get_path(data, self.target.usage_path)
        if isinstance(usage, Mapping):
            self.exchange.usage = dict(usage)
        conversation_id = get_path(data, self.target.conversation_id_path)
        if conversation_id is not None:
            self.exchange.conversation_id = str(conversation_id)

    def _add_chunk(self, now: float, text: str) -> None:
        self.exchange.chunk_times.append(now)
        self.exchange.chunk_texts.append(text)
        self.exchange.answer += text


def websocket_url(url: str) -> str:
    """The ws:// or wss:// form of an http(s) URL."""
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def classify_failure(exc: BaseException) -> tuple[ErrorKind, str]:
    """Error kind and message of a transport failure."""
    text = f"{type(exc).__name__} {exc}"
    if isinstance(exc, ssl.SSLError) or "SSL" in text or "CERTIFICATE" in text.upper():
        return "tls", f"TLS failed: {exc}"
    if isinstance(exc, httpx.TimeoutException | asyncio.TimeoutError | TimeoutError):
        return "timeout", "no complete answer before the timeout"
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError | OSError):
        return "connect", f"cannot connect: {exc or type(exc).__name__}"
    return "closed", f"the connection failed: {type(exc).__name__}: {exc}"


async def send_chat(
    target: Target,
    client: httpx.AsyncClient | None,
    message: str,
    conversation_id: str | None = None,
    user_id: str | None = None,
    history: Sequence[Mapping[str, str]] = (),
    *,
    started: float | None = None,
) -> ChatExchange:
    """Send one chat message and time it; never raises for a failed request.

    ``client`` is used for HTTP modes (it may be None for ``websocket``). The whole
    exchange is bounded by ``target.timeout_s``. ``started`` overrides the start time
    (an open-loop scheduler passes the scheduled start).
    """
    request = build_request(
        target, message, conversation_id=conversation_id, user_id=user_id, history=history
    )
    exchange = ChatExchange(started=time.perf_counter() if started is None else started)
    recorder = ExchangeRecorder(target, exchange)
    try:
        async with asyncio.timeout(target.timeout_s):
            if target.mode == "websocket" or target.url.startswith(("ws://", "wss://")):
                await _send_websocket(target, request, recorder)
            else:
                if client is None:
                    raise ChatoptError("send_chat needs an httpx.AsyncClient for HTTP targets")
                await _send_http(client, request, recorder)
    except ChatoptError:
        raise
    except Exception as exc:  # every transport failure becomes data, not a crash
        kind, text = classify_failure(exc)
        return recorder.fail(time.perf_counter(), kind, text)
    return recorder.finish(time.perf_counter())


async def _send_http(client: httpx.AsyncClient, request: ChatRequest, recorder: ExchangeRecorder) -> None:
    recorder.exchange.sent = time.perf_counter()
    async with client.stream(
        request.method, request.url, headers=request.headers, content=request.body
    ) as response:
        recorder.on_headers(response.status_code, response.headers)
        async for data in response.aiter_bytes():
            recorder.on_bytes(time.perf_counter(), data)
            if recorder.done:
                break


async def _send_websocket(target: Target, request: ChatRequest, recorder: ExchangeRecorder) -> None:
    from websockets.asyncio.client import connect

    headers = {key: value for key, value in request.headers.items() if key.lower() != "content-type"}
    ssl_context: ssl.SSLContext | None = None
    url = websocket_url(request.url)
    if url.startswith("wss://") and not target.verify_tls:
        ssl_context = ssl.create_default_context()
        ssl_context.check_hostname = False
        ssl_context.verify_mode = ssl.CERT_NONE
    recorder.exchange.sent = time.perf_counter()
    async with connect(
        url, additional_headers=headers, ssl=ssl_context, open_timeout=target.timeout_s
    ) as socket:
        recorder.on_headers(101, {"content-type": "websocket"})
        recorder.exchange.mode = "websocket"
        await socket.send(request.body.decode())
        async for frame in socket:
            recorder.on_message(time.perf_counter(), frame)
            if recorder.done:
                break


def explain_failure(target: Target, exchange: ChatExchange) -> ChatoptError:
    """A failed pre-flight exchange as a one-line error that says what to fix."""
    kind, status, sample = exchange.error_kind, exchange.status, exchange.sample.strip()[:160]
    content_type = exchange.headers.get("content-type", "?")
    if kind == "connect":
        return ChatoptError(
            f"cannot reach {target.url}: {exchange.error}", hint="is the server running? check host and port"
        )
    if kind == "tls":
        return ChatoptError(
            f"TLS handshake with {target.url} failed: {exchange.error}",
            hint="use http:// for a plain server, or verify_tls: false in a profile for a test certificate",
        )
    if kind == "timeout":
        return ChatoptError(
            f"{target.url} gave no complete answer within {target.timeout_s:g}s",
            hint="check the backend is healthy, or raise timeout_s in the target profile",
        )
    if kind == "http" and status in (401, 403):
        return ChatoptError(
            f"{target.url} refused the request (HTTP {status})",
            hint="add credentials, e.g. --header 'Authorization: Bearer TOKEN' (chatopt token makes one)",
        )
    if kind == "http" and status in (404, 405):
        return ChatoptError(
            f"{target.url} answered HTTP {status}: this is not the chat endpoint",
            hint="check the URL path, or pick another --target profile",
        )
    if kind == "http":
        return ChatoptError(
            f"{target.url} answered {exchange.error}", hint="fix the backend or the request body"
        )
    if kind == "protocol":
        return ChatoptError(
            f"{target.url} sent a malformed {exchange.mode} response: {exchange.error}",
            hint="check the target's mode (json, sse, ndjson, websocket) matches what the server sends",
        )
    if kind == "no_content":
        return ChatoptError(
            f"{target.url} answered ({content_type}) but {exchange.error}; it began {sample!r}",
            hint="this does not look like a chat response for this profile: fix answer_path / delta_path "
            "or choose the right --target",
        )
    return ChatoptError(f"{target.url} failed: {exchange.error}", hint="check the backend's logs")


async def check_target(target: Target, message: str = "Hello! What can you do?") -> ChatExchange:
    """Pre-flight: send one real message; raise a :class:`ChatoptError` that says what to fix."""
    async with httpx.AsyncClient(timeout=target.timeout_s, verify=target.verify_tls) as client:
        exchange = await send_chat(target, client, message, user_id="chatopt-preflight")
    if not exchange.ok:
        raise explain_failure(target, exchange)
    return exchange
