"""Realtime test harness: a scripted chat runner and real uvicorn servers on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from reference_server.auth import issue_token
from reference_server.realtime import ChatEvent, ChatRequest, Failure, Final, Realtime, TokenChunk
from reference_server.settings import ServerSettings, settings_for_profile
from tests.services import free_port


@dataclass
class ScriptedRunner:
    """Answers every message with ``chunks`` token chunks, ``delay_s`` apart, then ``final``."""

    chunks: int = 5
    delay_s: float = 0.0
    chunk_text: str = "tok "
    fail_with: Failure | None = None
    requests: list[ChatRequest] = field(default_factory=list)
    produced: int = 0
    closed: int = 0

    async def __call__(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        self.requests.append(request)
        try:
            for index in range(self.chunks):
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                self.produced += 1
                yield TokenChunk(f"{self.chunk_text}{index} ")
            if self.fail_with is not None:
                yield self.fail_with
                return
            yield Final(message_id=f"m-{len(self.requests)}",
                        conversation_id=request.conversation_id or "c-1",
                        model="small", usage={"completion_tokens": self.chunks})
        finally:
            self.closed += 1


def realtime_settings(**overrides: Any) -> ServerSettings:
    return settings_for_profile("optimized", **overrides)


def token_for(settings: ServerSettings, user: str = "alice") -> str:
    return issue_token(settings.secret, user)


def ws_url(host: str, settings: ServerSettings, user: str = "alice") -> str:
    return f"ws://{host}/ws?token={token_for(settings, user)}"


async def send(ws: Any, kind: str, **fields: Any) -> None:
    await ws.send(json.dumps({"type": kind, **fields}))


async def recv(ws: Any, within_s: float = 5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), within_s))


async def recv_event(ws: Any, within_s: float = 5.0) -> dict:
    """The next frame that is not a server heartbeat ping."""
    frame = await recv(ws, within_s)
    while frame["type"] == "ping":
        frame = await recv(ws, within_s)
    return frame


async def recv_stream(ws: Any, limit: int = 500) -> list[dict]:
    """Frames of one stream up to its terminal event, skipping heartbeat pings."""
    frames = []
    for _ in range(limit):
        frame = await recv_event(ws)
        frames.append(frame)
        if frame["type"] in ("final", "error") and "seq" in frame:
            return frames
    raise AssertionError(f"no terminal frame in {limit} frames")


async def eventually(predicate: Any, within_s: float = 5.0, step_s: float = 0.02) -> None:
    """Wait until ``predicate()`` is true; fail after ``within_s``."""
    for _ in range(max(1, int(within_s / step_s))):
        if predicate():
            return
        await asyncio.sleep(step_s)
    assert predicate(), f"condition not reached within {within_s}s"


def realtime_app(realtime: Realtime) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await realtime.start()
        try:
            yield
        finally:
            await realtime.stop()

    async def healthz(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[*realtime.routes(), Route("/healthz", healthz)], lifespan=lifespan)


def running(realtime: Realtime) -> contextlib.AbstractAsyncContextManager[str]:
    """Serve ``realtime`` alone (a bare Starlette app of its routes); yields ``host:port``."""
    return serving(realtime_app(realtime))


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free port in this event loop; yields ``host:port``."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 10)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
