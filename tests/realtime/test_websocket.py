"""The /ws protocol end to end on a real uvicorn server."""

from __future__ import annotations

import asyncio
import json

import websockets

from reference_server.realtime import Realtime
from tests.realtime.harness import ScriptedRunner, realtime_settings, running, token_for


async def _recv_until_terminal(ws, limit: int = 200) -> list[dict]:
    frames = []
    for _ in range(limit):
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        frames.append(frame)
        if frame["type"] in ("final", "error") and "seq" in frame:
            return frames
    raise AssertionError(f"no terminal frame in {limit} frames")


async def test_message_streams_numbered_tokens_then_final() -> None:
    settings = realtime_settings()
    runner = ScriptedRunner(chunks=4)
    realtime = Realtime(settings, runner)
    async with running(realtime) as host:
        url = f"ws://{host}/ws?token={token_for(settings)}"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "message", "message": "hello", "client_msg_id": "c1"}))
            started = json.loads(await asyncio.wait_for(ws.recv(), 5))
            frames = await _recv_until_terminal(ws)
    assert started["type"] == "started" and started["client_msg_id"] == "c1"
    assert [f["type"] for f in frames] == ["token"] * 4 + ["final"]
    assert [f["seq"] for f in frames] == [1, 2, 3, 4, 5]
    assert {f["stream_id"] for f in frames} == {started["stream_id"]}
    assert "".join(f["text"] for f in frames[:-1]) == "tok 0 tok 1 tok 2 tok 3 "
    assert frames[-1]["model"] == "small" and frames[-1]["usage"] == {"completion_tokens": 4}
    assert runner.requests[0].message == "hello" and runner.requests[0].identity.user_id == "alice"
