"""Test helpers: serve an ASGI app on a free port, and a small deterministic OpenAI-compatible upstream."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.services import free_port


@contextmanager
def serve(app, port: int | None = None) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread; yield its base URL; always stop it."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def answer_for(messages: list[dict]) -> str:
    """A deterministic answer that depends on the last user message."""
    last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    return f"You asked about {last[:60]!s}. Here is a short answer with several words in it."


def fake_openai_app(chunk_delay_s: float = 0.002) -> Starlette:
    """An OpenAI-compatible upstream: chat completions (JSON or SSE with usage), embeddings, models.

    Everything is deterministic (fixed ids and timestamps) so two identical requests get
    identical bytes; ``x-test-gzip: 1`` asks for a gzip-compressed JSON answer.
    """

    async def chat(request: Request) -> Response:
        body = await request.json()
        messages = body.get("messages") or []
        model = body.get("model", "small")
        answer = answer_for(messages)
        words = answer.split(" ")
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        }
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

            async def events():
                base = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "created": 1700000000,
                    "model": model,
                }
                first = {
                    **base,
                    "choices": [
                        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                    ],
                }
                yield f"data: {json.dumps(first)}\n\n".encode()
                for index, word in enumerate(words):
                    await asyncio.sleep(chunk_delay_s)
                    text = word if index == 0 else " " + word
                    chunk = {
                        **base,
                        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
                    }
                    yield f"data: {json.dumps(chunk)}\n\n".encode()
                last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                yield f"data: {json.dumps(last)}\n\n".encode()
                if include_usage:
                    yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode()
                yield b"data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        await asyncio.sleep(chunk_delay_s * len(words))
        payload = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
            ],
            "usage": usage,
        }
        raw = json.dumps(payload).encode()
        if request.headers.get("x-test-gzip") == "1":
            return Response(
                gzip.compress(raw, mtime=0),
                media_type="application/json",
                headers={"content-encoding": "gzip"},
            )
        return Response(raw, media_type="application/json")

    async def embeddings(request: Request) -> Response:
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(len(inputs))]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            }
        )

    async def models(request: Request) -> Response:
        return JSONResponse(
            {"object": "list", "data": [{"id": "small", "object": "model", "created": 0, "owned_by": "test"}]}
        )

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/models", models),
        ]
    )
