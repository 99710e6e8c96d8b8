"""Two instances, one Redis: a client on instance A gets answers produced on instance B."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
import websockets

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
from tests.realtime.test_longpoll_sse import MESSAGES, auth, parse_sse, poll_all

pytestmark = pytest.mark.services


@contextlib.asynccontextmanager
async def two_instances(redis_url: str, prefix: str, runner: ScriptedRunner,
                        **overrides) -> AsyncIterator[tuple[Realtime, str, Realtime, str]]:
    """Instances A and B, each with its own Redis client, sharing keys under ``prefix``."""
    settings = realtime_settings(**overrides)
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    a = Realtime(settings, runner, redis=clients[0], prefix=prefix)
    b = Realtime(settings, runner, redis=clients[1], prefix=prefix)
    try:
        async with running(a) as host_a, running(b) as host_b:
            yield a, host_a, b, host_b
    finally:
        for client in clients:
            await client.aclose()


async def test_long_poll_and_sse_on_a_read_an_answer_produced_on_b(redis_url: str, redis_prefix: str) -> None:
    runner = ScriptedRunner(chunks=8, delay_s=0.02)
    async with two_instances(redis_url, redis_prefix, runner) as (a, host_a, b, host_b):
        settings = a.settings
        async with httpx.AsyncClient(base_url=f"http://{host_b}") as on_b:
            started = await on_b.post(MESSAGES, headers=auth(settings), json={"message": "hi"})
        stream_id = started.json()["stream_id"]
        async with httpx.AsyncClient(base_url=f"http://{host_a}") as on_a:
            polled = await poll_all(on_a, stream_id, auth(settings))
            sse = await on_a.get(f"/api/realtime/streams/{stream_id}/events", headers=auth(settings))
            stranger = await on_a.get(f"/api/realtime/streams/{stream_id}/poll",
                                      headers=auth(settings, "eve"))
        assert a.hub.local.get(stream_id) is None, "A must have read the stream from Redis, not produced it"
    assert [e["seq"] for e in polled] == list(range(1, 10)) and polled[-1]["type"] == "final"
    assert [data for _, _, data in parse_sse(sse.text)] == polled
    assert stranger.status_code == 404


async def test_websocket_on_a_follows_live_an_answer_still_being_produced_on_b(
        redis_url: str, redis_prefix: str) -> None:
    # A long heartbeat: without Pub/Sub wake-ups the follower on A would sit out 30 s waits.
    runner = ScriptedRunner(chunks=20, delay_s=0.03)
    async with two_instances(redis_url, redis_prefix, runner, ws_heartbeat_s=30) as (a, host_a, b, host_b):
        settings = a.settings
        async with websockets.connect(ws_url(host_b, settings)) as on_b:
            await send(on_b, "message", message="stream it", client_msg_id="x-1")
            stream_id = (await recv(on_b))["stream_id"]
            first = [await recv(on_b), await recv(on_b)]
        async with websockets.connect(ws_url(host_a, settings)) as on_a:
            await send(on_a, "resume", stream_id=stream_id, after_seq=first[-1]["seq"])
            rest = await recv_stream(on_a)
            await send(on_a, "message", message="stream it", client_msg_id="x-1")
            duplicate = await recv(on_a)
    frames = first + rest
    assert [f["seq"] for f in frames] == list(range(1, 22)) and frames[-1]["type"] == "final"
    assert "".join(f.get("text", "") for f in frames) == "".join(f"tok {i} " for i in range(20))
    assert duplicate["stream_id"] == stream_id and duplicate["duplicate"] is True
    assert len(runner.requests) == 1


async def test_the_message_throttle_is_shared_by_all_instances(redis_url: str, redis_prefix: str) -> None:
    runner = ScriptedRunner(chunks=1)
    instances = two_instances(redis_url, redis_prefix, runner, ws_messages_per_minute=3)
    async with instances as (a, host_a, _, host_b):
        statuses = []
        for host in (host_a, host_b, host_a, host_b):
            async with httpx.AsyncClient(base_url=f"http://{host}") as client:
                response = await client.post(MESSAGES, headers=auth(a.settings), json={"message": "hi"})
                statuses.append(response.status_code)
    assert statuses == [202, 202, 202, 429]


async def test_without_redis_an_instance_keeps_serving_its_own_streams(private_redis) -> None:
    runner = ScriptedRunner(chunks=3)
    settings = realtime_settings()
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=0.3, socket_connect_timeout=0.3)
    realtime = Realtime(settings, runner, redis=client, prefix="rt-down:")
    try:
        async with running(realtime) as host:
            private_redis.stop()
            async with websockets.connect(ws_url(host, settings)) as ws:
                await send(ws, "message", message="still there?")
                assert (await recv(ws))["type"] == "started"
                frames = await recv_stream(ws)
            async with httpx.AsyncClient(base_url=f"http://{host}") as http:
                started = await http.post(MESSAGES, headers=auth(settings), json={"message": "and now?"})
                polled = await poll_all(http, started.json()["stream_id"], auth(settings))
                missing = await http.get("/api/realtime/streams/elsewhere/poll?wait_s=0",
                                         headers={"Authorization": f"Bearer {token_for(settings)}"})
    finally:
        await client.aclose()
    assert [f["type"] for f in frames] == ["token"] * 3 + ["final"]
    assert [e["type"] for e in polled] == ["token"] * 3 + ["final"]
    assert missing.status_code == 404


async def test_instances_share_streams_again_once_redis_is_back(private_redis) -> None:
    runner = ScriptedRunner(chunks=3, delay_s=0.01)
    async with two_instances(private_redis.url, "rt-restart:", runner) as (a, host_a, b, host_b):
        settings = a.settings
        private_redis.stop()
        async with httpx.AsyncClient(base_url=f"http://{host_b}") as on_b:
            during = await on_b.post(MESSAGES, headers=auth(settings), json={"message": "redis is down"})
            assert during.status_code == 202
            events = await poll_all(on_b, during.json()["stream_id"], auth(settings))
            assert events[-1]["type"] == "final"
        private_redis.start()
        fanouts = (a.hub.fanout, b.hub.fanout)
        await eventually(lambda: all(f.subscribed.is_set() for f in fanouts), within_s=10)
        await asyncio.sleep(a.hub.redis_retry_s)
        runner.delay_s = 0.2
        async with httpx.AsyncClient(base_url=f"http://{host_b}") as on_b:
            after = await on_b.post(MESSAGES, headers=auth(settings), json={"message": "redis is back"})
        # Waiting for the final event (seq 4) on A needs a Pub/Sub wake-up: without one this
        # long poll would sit out its 30 s and trip the 10 s bound.
        async with httpx.AsyncClient(base_url=f"http://{host_a}", timeout=40) as on_a, asyncio.timeout(10):
            polled = await on_a.get(f"/api/realtime/streams/{after.json()['stream_id']}/poll",
                                    params={"after_seq": 3, "wait_s": 30}, headers=auth(settings))
    assert polled.json()["events"][0]["type"] == "final" and polled.json()["done"]


async def test_cancel_on_a_stops_an_answer_produced_on_b(redis_url: str, redis_prefix: str) -> None:
    runner = ScriptedRunner(chunks=500, delay_s=0.01)
    async with two_instances(redis_url, redis_prefix, runner) as (a, host_a, b, host_b):
        settings = a.settings
        async with httpx.AsyncClient(base_url=f"http://{host_b}") as on_b:
            stream_id = (await on_b.post(MESSAGES, headers=auth(settings), json={"message": "long"})).json()[
                "stream_id"]
        async with websockets.connect(ws_url(host_a, settings)) as on_a:
            await send(on_a, "resume", stream_id=stream_id, after_seq=0)
            await recv(on_a)
            await send(on_a, "cancel", stream_id=stream_id)
            frames = await recv_stream(on_a)
        await eventually(lambda: runner.closed == 1)
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "cancelled"
    assert runner.produced < 500 and b.hub.producing == 0
