"""The /ws protocol end to end on a real uvicorn server."""

from __future__ import annotations

import json
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from reference_server.realtime import Realtime
from tests.realtime.harness import (
    ScriptedRunner,
    eventually,
    realtime_settings,
    recv,
    recv_stream,
    running,
    send,
    token_for,
    ws_url,
)


async def test_message_streams_numbered_tokens_then_final() -> None:
    settings = realtime_settings()
    runner = ScriptedRunner(chunks=4)
    realtime = Realtime(settings, runner)
    async with running(realtime) as host, websockets.connect(ws_url(host, settings)) as ws:
        await send(ws, "message", message="hello", client_msg_id="c1")
        started = await recv(ws)
        frames = await recv_stream(ws)
    assert started["type"] == "started" and started["client_msg_id"] == "c1"
    assert [f["type"] for f in frames] == ["token"] * 4 + ["final"]
    assert [f["seq"] for f in frames] == [1, 2, 3, 4, 5]
    assert {f["stream_id"] for f in frames} == {started["stream_id"]}
    assert "".join(f["text"] for f in frames[:-1]) == "tok 0 tok 1 tok 2 tok 3 "
    assert frames[-1]["model"] == "small" and frames[-1]["usage"] == {"completion_tokens": 4}
    assert runner.requests[0].message == "hello" and runner.requests[0].identity.user_id == "alice"


async def test_bearer_header_authenticates_and_a_bad_token_is_closed_with_a_reason() -> None:
    settings = realtime_settings()
    realtime = Realtime(settings, ScriptedRunner())
    async with running(realtime) as host:
        headers = {"Authorization": f"Bearer {token_for(settings, 'bob')}"}
        async with websockets.connect(f"ws://{host}/ws", additional_headers=headers) as ws:
            await send(ws, "ping", ts=42)
            pong = await recv(ws)
            assert pong["type"] == "pong" and pong["ts"] == 42
        for url in (f"ws://{host}/ws", f"ws://{host}/ws?token=v1.forged.token"):
            async with websockets.connect(url) as ws:
                error = await recv(ws)
                with pytest.raises(ConnectionClosed):
                    await recv(ws)
            assert error["type"] == "error" and error["code"] == "unauthorized"
            assert "token" in error["message"]
            assert ws.close_code == 1008


async def test_bad_frames_get_an_error_that_says_what_to_fix_and_the_connection_stays() -> None:
    settings = realtime_settings(max_message_chars=20)
    runner = ScriptedRunner()
    realtime = Realtime(settings, runner)
    async with running(realtime) as host, websockets.connect(ws_url(host, settings)) as ws:
        cases = [
            ("not json", "bad_request", "JSON"),
            (json.dumps([1, 2]), "bad_request", "type"),
            (json.dumps({"type": "shout"}), "bad_request", "unknown frame type"),
            (json.dumps({"type": "message", "message": ""}), "bad_request", "message"),
            (json.dumps({"type": "message", "message": "x" * 21}), "message_too_long", "limit is 20"),
            (json.dumps({"type": "resume", "after_seq": 1}), "bad_request", "stream_id"),
            (json.dumps({"type": "resume", "stream_id": "s", "after_seq": -1}), "bad_request", "after_seq"),
            (json.dumps({"type": "resume", "stream_id": "nope"}), "not_found", "nope"),
            (json.dumps({"type": "cancel", "stream_id": "nope"}), "not_found", "nope"),
        ]
        for text, code, words in cases:
            await ws.send(text)
            error = await recv(ws)
            assert (error["type"], error["code"]) == ("error", code), text
            assert words in error["message"], (text, error)
        await send(ws, "ping")
        assert (await recv(ws))["type"] == "pong"
    assert runner.requests == []


async def test_oversized_frame_closes_with_1009() -> None:
    settings = realtime_settings(max_body_bytes=1000)
    realtime = Realtime(settings, ScriptedRunner())
    async with running(realtime) as host, websockets.connect(ws_url(host, settings)) as ws:
        await send(ws, "message", message="x" * 2000)
        error = await recv(ws)
        with pytest.raises(ConnectionClosed):
            await recv(ws)
    assert error["code"] == "frame_too_large" and "1000" in error["message"]
    assert ws.close_code == 1009


async def test_connections_beyond_the_maximum_get_1013_with_a_retry_hint() -> None:
    settings = realtime_settings(ws_max_connections=2, ws_heartbeat_s=5)
    realtime = Realtime(settings, ScriptedRunner())
    async with running(realtime) as host:
        url = f"ws://{host}/ws?token={token_for(settings)}"
        async with websockets.connect(url) as first, websockets.connect(url):
            await send(first, "ping")
            await recv(first)
            assert len(realtime.registry) == 2
            async with websockets.connect(url) as refused:
                error = await recv(refused)
                with pytest.raises(ConnectionClosed):
                    await recv(refused)
            assert error["code"] == "at_capacity" and error["retry_after_s"] == 5
            assert refused.close_code == 1013 and "retry in 5s" in refused.close_reason
            assert len(realtime.registry) == 2
        await eventually(lambda: len(realtime.registry) == 0)
        async with websockets.connect(url) as again:
            await send(again, "ping")
            assert (await recv(again))["type"] == "pong"


async def test_per_user_throttle_refuses_messages_past_the_minute_budget() -> None:
    settings = realtime_settings(ws_messages_per_minute=3)
    runner = ScriptedRunner(chunks=1)
    realtime = Realtime(settings, runner)
    async with running(realtime) as host:
        async with websockets.connect(ws_url(host, settings)) as ws:
            outcomes = []
            for index in range(5):
                await send(ws, "message", message=f"q{index}", client_msg_id=str(index))
                first = await recv(ws)
                if first["type"] == "started":
                    await recv_stream(ws)
                outcomes.append(first)
        async with websockets.connect(f"ws://{host}/ws?token={token_for(settings, 'carol')}") as other:
            await send(other, "message", message="hi")
            assert (await recv(other))["type"] == "started"
    assert [o["type"] for o in outcomes] == ["started"] * 3 + ["error"] * 2
    refused = outcomes[3]
    assert refused["code"] == "rate_limited" and "3 messages per minute" in refused["message"]
    assert 0 < refused["retry_after_s"] <= 60 and refused["client_msg_id"] == "3"
    assert len(runner.requests) == 4


async def test_reconnect_and_resume_loses_nothing() -> None:
    settings = realtime_settings()
    runner = ScriptedRunner(chunks=12, delay_s=0.02)
    realtime = Realtime(settings, runner)
    async with running(realtime) as host:
        url = f"ws://{host}/ws?token={token_for(settings)}"
        async with websockets.connect(url) as ws:
            await send(ws, "message", message="long answer please")
            stream_id = (await recv(ws))["stream_id"]
            received = [await recv(ws), await recv(ws), await recv(ws)]
        async with websockets.connect(url) as ws:
            await send(ws, "resume", stream_id=stream_id, after_seq=received[-1]["seq"])
            received += await recv_stream(ws)
        async with websockets.connect(f"ws://{host}/ws?token={token_for(settings, 'mallory')}") as thief:
            await send(thief, "resume", stream_id=stream_id, after_seq=0)
            stolen = await recv(thief)
    assert [f["seq"] for f in received] == list(range(1, 14))
    assert "".join(f.get("text", "") for f in received) == "".join(f"tok {i} " for i in range(12))
    assert received[-1]["type"] == "final"
    assert stolen["code"] == "not_found"
    assert len(runner.requests) == 1


async def test_resending_the_same_client_msg_id_replays_instead_of_answering_twice() -> None:
    settings = realtime_settings()
    runner = ScriptedRunner(chunks=3)
    realtime = Realtime(settings, runner)
    async with running(realtime) as host:
        url = f"ws://{host}/ws?token={token_for(settings)}"
        async with websockets.connect(url) as ws:
            await send(ws, "message", message="once", client_msg_id="m-1")
            first_id = (await recv(ws))["stream_id"]
            first = await recv_stream(ws)
            await send(ws, "message", message="once", client_msg_id="m-1")
            again = await recv(ws)
            replay = await recv_stream(ws)
    assert again == {"type": "started", "stream_id": first_id, "client_msg_id": "m-1", "duplicate": True}
    assert replay == first
    assert len(runner.requests) == 1


async def test_cancel_stops_the_upstream_and_ends_the_stream() -> None:
    settings = realtime_settings()
    runner = ScriptedRunner(chunks=500, delay_s=0.01)
    realtime = Realtime(settings, runner)
    async with running(realtime) as host, websockets.connect(ws_url(host, settings)) as ws:
        await send(ws, "message", message="go")
        stream_id = (await recv(ws))["stream_id"]
        await recv(ws)
        await send(ws, "cancel", stream_id=stream_id)
        frames = await recv_stream(ws)
        await eventually(lambda: runner.closed == 1)
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "cancelled"
    assert runner.closed == 1 and runner.produced < 500
    assert realtime.hub.producing == 0


async def test_heartbeat_drops_a_silent_peer_and_keeps_one_that_answers() -> None:
    settings = realtime_settings(ws_heartbeat_s=0.4)
    realtime = Realtime(settings, ScriptedRunner())
    async with running(realtime) as host:
        url = f"ws://{host}/ws?token={token_for(settings)}"
        async with websockets.connect(url) as silent, websockets.connect(url) as alive:
            deadline = time.monotonic() + 2.0
            pings = 0
            while time.monotonic() < deadline:
                frame = await recv(alive)
                assert frame["type"] == "ping" and frame["ts"] > 0
                pings += 1
                await send(alive, "pong")
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv(silent, within_s=2.0)
            assert silent.close_code == 1001
            assert pings >= 3
            assert len(realtime.registry) == 1 and realtime.registry.dropped_dead == 1
            await send(alive, "ping")
            while (await recv(alive))["type"] != "pong":
                pass
