"""Thousands of connect/disconnect and cancel-mid-stream cycles leave nothing behind."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass

import psutil
import pytest
import websockets

from reference_server.realtime import Realtime
from tests.realtime.harness import (
    ScriptedRunner,
    eventually,
    realtime_settings,
    recv,
    recv_event,
    recv_stream,
    running,
    send,
    ws_url,
)

CYCLES_PER_ROUND = 900  # three kinds of cycle, 300 each, per round; two rounds
RSS_GROWTH_BOUND = 16 * 1024 * 1024
STREAM_TTL_S = 0.5


@dataclass(frozen=True)
class Footprint:
    tasks: int
    fds: int
    rss: int


def footprint() -> Footprint:
    gc.collect()
    process = psutil.Process()
    return Footprint(len(asyncio.all_tasks()), process.num_fds(), process.memory_info().rss)


async def clean_cycle(url: str) -> None:
    async with websockets.connect(url) as ws:
        await send(ws, "ping")
        await recv(ws)


async def vanish_mid_stream(url: str) -> None:
    ws = await websockets.connect(url)
    await send(ws, "message", message="leave me")
    await recv(ws)  # started
    await recv(ws)  # first token
    ws.transport.abort()
    await ws.wait_closed()


async def cancel_mid_stream(url: str) -> None:
    async with websockets.connect(url) as ws:
        await send(ws, "message", message="stop me")
        stream_id = (await recv_event(ws))["stream_id"]  # a heartbeat may come first
        await recv_event(ws)
        await send(ws, "cancel", stream_id=stream_id)
        await recv_stream(ws)


async def one_round(url: str, realtime: Realtime, tasks_before: int) -> Footprint:
    kinds = (clean_cycle, vanish_mid_stream, cancel_mid_stream)
    for index in range(CYCLES_PER_ROUND):
        await kinds[index % 3](url)
    await eventually(lambda: realtime.hub.producing == 0 and len(realtime.registry) == 0, within_s=20)
    # uvicorn finishes each closed connection's task a moment after the endpoint returns.
    await eventually(lambda: len(asyncio.all_tasks()) <= tasks_before, within_s=10)
    await asyncio.sleep(STREAM_TTL_S)
    realtime.hub.local.evict_expired()
    return footprint()


@pytest.mark.slow
async def test_connection_cycles_do_not_grow_tasks_fds_or_memory() -> None:
    settings = realtime_settings(ws_messages_per_minute=1_000_000, ws_heartbeat_s=5)
    runner = ScriptedRunner(chunks=40, delay_s=0.002)
    realtime = Realtime(settings, runner, stream_ttl_s=STREAM_TTL_S)
    async with running(realtime) as host:
        url = ws_url(host, settings)
        for _ in range(30):
            await clean_cycle(url)
        before = footprint()
        first = await one_round(url, realtime, before.tasks)
        second = await one_round(url, realtime, before.tasks)
        assert len(realtime.hub.local) == 0 and len(realtime.hub.waiters) == 0
    assert runner.closed == len(runner.requests) == 2 * 2 * CYCLES_PER_ROUND // 3
    assert runner.produced < 40 * len(runner.requests), "cancelled answers must stop early"
    for after in (first, second):
        assert after.tasks <= before.tasks + 2, (before, after)
        assert after.fds <= before.fds + 4, (before, after)
    assert second.rss - first.rss < RSS_GROWTH_BOUND, (first, second)
