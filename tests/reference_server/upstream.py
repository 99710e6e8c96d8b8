"""A tiny OpenAI-compatible upstream for the server tests: records what it was sent,
answers deterministically, streams one token per chunk and notices cancelled streams."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from chatopt import tokens
from tests.services import free_port, wait_for_port


@dataclass
class UpstreamCall:
    model: str
    messages: list[dict[str, Any]]
    stream: bool
    include_usage: bool


@dataclass
class UpstreamScript:
    """How the upstream behaves; tests change it between requests."""

    answer_words: int = 12
    token_delay_s: float = 0.0
    fail_status: int | None = None
    report_usage: bool = True


@dataclass
class FakeUpstream:
    script: UpstreamScript = field(default_factory=UpstreamScript)
    calls: list[UpstreamCall] = field(default_factory=list)
    streams_started: int = 0
    streams_finished: int = 0
    streams_cancelled: int = 0
    tokens_sent: int = 0

    def answer_for(self, messages: list[dict[str, Any]]) -> str:
        query = str(messages[-1].get("content", ""))
        words = " ".join(f"word{index}" for index in range(self.script.answer_words))
        return f"Answer to {query[:40]}: {words}"

    def usage(self, messages: list[dict[str, Any]], text: str, model: str) -> dict[str, int]:
        prompt = tokens.count_messages(messages, model=model)
        completion = tokens.count_text(text, model=model)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        model, messages = body["model"], body["messages"]
        stream = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.calls.append(UpstreamCall(model, messages, stream, include_usage))
        if self.script.fail_status is not None:
            return JSONResponse(
                {"error": {"message": "scripted failure"}}, status_code=self.script.fail_status
            )
        text = self.answer_for(messages)
        usage = self.usage(messages, text, model) if self.script.report_usage else None
        if not stream:
            return JSONResponse(
                {
                    "id": "cmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )
        return StreamingResponse(
            self._stream(text, model, usage if include_usage else None), media_type="text/event-stream"
        )

    async def _stream(self, text: str, model: str, usage: dict[str, int] | None):
        self.streams_started += 1
        finished = False
        try:
            for piece in tokens.decode_each(tokens.encode(text, model=model), model=model):
                if self.script.token_delay_s:
                    await asyncio.sleep(self.script.token_delay_s)
                chunk = {
                    "id": "c",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": piece.decode("utf-8", "replace")},
                            "finish_reason": None,
                        }
                    ],
                }
                self.tokens_sent += 1
                yield f"data: {json.dumps(chunk)}\n\n"
            if usage is not None:
                yield f"data: {json.dumps({'id': 'c', 'object': 'chat.completion.chunk', 'created': 0, 'model': model, 'choices': [], 'usage': usage})}\n\n"  # noqa: E501
            yield "data: [DONE]\n\n"
            finished = True
        finally:
            if finished:
                self.streams_finished += 1
            else:
                self.streams_cancelled += 1


class ServerThread:
    """Runs an ASGI app under uvicorn in a background thread on a free port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="on",
                loop="asyncio",
                http="h11",
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        wait_for_port("127.0.0.1", self.port)
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def upstream_app(upstream: FakeUpstream) -> Starlette:
    return Starlette(routes=[Route("/v1/chat/completions", upstream.completions, methods=["POST"])])
