"""Small chat backends for tests, one per response mode, served by uvicorn in a thread."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.services import free_port

WORDS = ["Hello", " from", " the", " test", " backend", "."]
GAP_S = 0.03


async def openai_sse(request: Request) -> Response:
    body = await request.json()
    if not body.get("stream"):
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": "".join(WORDS)}}]})

    async def events() -> Iterator[str]:
        yield "data: " + json.dumps({"choices": [{"delta": {"role": "assistant", "content": ""}}]}) + "\n\n"
        for word in WORDS:
            await asyncio.sleep(GAP_S)
            yield "data: " + json.dumps({"choices": [{"delta": {"content": word}}]}) + "\n\n"
        usage = {"prompt_tokens": 5, "completion_tokens": len(WORDS), "total_tokens": 5 + len(WORDS)}
        yield "data: " + json.dumps({"choices": [], "usage": usage}) + "\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"X-Cache": "miss"})


async def custom_json(request: Request) -> Response:
    body = await request.json()
    if request.headers.get("authorization") != "Bearer good":
        return JSONResponse({"error": "unauthorized"}, status_code=401)
    return JSONResponse(
        {"data": {"reply": f"You said: {body['prompt']}"}, "session": body.get("session") or "conv-1"},
        headers={"X-Cache": "hit"},
    )


async def ndjson(request: Request) -> Response:
    async def lines() -> Iterator[str]:
        for word in WORDS:
            await asyncio.sleep(GAP_S)
            yield json.dumps({"token": word}) + "\n"
        yield json.dumps({"done": True, "conversation": "nd-1"}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


async def html_page(request: Request) -> Response:
    return HTMLResponse("<html><body>Welcome to our homepage</body></html>")


async def malformed_sse(request: Request) -> Response:
    async def events() -> Iterator[str]:
        yield "data: this is not json\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


_serial_lock: asyncio.Lock | None = None


async def one_at_a_time(request: Request) -> Response:
    """Serves one request at a time, 100 ms each: a target that queues under load."""
    global _serial_lock
    if _serial_lock is None:
        _serial_lock = asyncio.Lock()
    await request.body()
    async with _serial_lock:
        await asyncio.sleep(0.1)
    return JSONResponse({"reply": "done"})


async def websocket_chat(websocket: WebSocket) -> None:
    await websocket.accept()
    frame = json.loads(await websocket.receive_text())
    for word in WORDS:
        await asyncio.sleep(GAP_S)
        await websocket.send_text(json.dumps({"type": "token", "text": word}))
    await websocket.send_text(
        json.dumps({"type": "final", "conversation_id": frame.get("conversation_id") or "ws-1", "usage": {}})
    )
    await websocket.close()


def test_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/chat/completions", openai_sse, methods=["POST"]),
            Route("/custom", custom_json, methods=["POST"]),
            Route("/ndjson", ndjson, methods=["POST"]),
            Route("/html", html_page, methods=["POST", "GET"]),
            Route("/malformed", malformed_sse, methods=["POST"]),
            Route("/serial", one_at_a_time, methods=["POST"]),
            WebSocketRoute("/ws", websocket_chat),
        ]
    )


@contextmanager
def serve(app: Starlette | None = None) -> Iterator[str]:
    """Serve the app on a free port in a background thread; yields its base URL."""
    global _serial_lock
    _serial_lock = None
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app or test_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test backend did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
