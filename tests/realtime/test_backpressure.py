"""A client that stops reading pauses its answer's upstream and is then closed, never buffered."""

from __future__ import annotations

import asyncio

from reference_server.realtime import Realtime
from tests.realtime.harness import ScriptedRunner, eventually, realtime_settings, running, token_for
from tests.realtime.rawclient import RawWebSocket

CHUNKS = 400
CHUNK_CHARS = 32 * 1024


async def _settled(read, quiet_s: float = 0.3, within_s: float = 5.0) -> int:
    """The value of ``read()`` once it stopped changing for ``quiet_s``."""
    last, since = read(), asyncio.get_running_loop().time()
    async with asyncio.timeout(within_s):
        while True:
            await asyncio.sleep(0.05)
            now, value = asyncio.get_running_loop().time(), read()
            if value != last:
                last, since = value, now
            elif now - since >= quiet_s:
                return value


async def test_a_client_that_stops_reading_pauses_upstream_then_is_cut_off() -> None:
    settings = realtime_settings(ws_heartbeat_s=1.5, ws_send_buffer=4)
    runner = ScriptedRunner(chunks=CHUNKS, chunk_text="x" * CHUNK_CHARS)
    realtime = Realtime(settings, runner)
    async with running(realtime) as host:
        address, port = host.split(":")
        client = await RawWebSocket.connect(address, int(port), f"/ws?token={token_for(settings)}",
                                            receive_buffer=4096)
        try:
            await client.send_json({"type": "message", "message": "a very long answer"})
            paused_at = await _settled(lambda: runner.produced)
            assert 0 < paused_at < CHUNKS / 2, "upstream kept producing for a client that does not read"
            assert len(realtime.registry) == 1

            await eventually(lambda: len(realtime.registry) == 0)
            assert realtime.registry.dropped_dead == 0, "closed by the heartbeat, not the stuck-client rule"

            read, error = await client.drain_until_closed(within_s=5)
            assert isinstance(error, ConnectionResetError), "the stuck socket was not cut off"
            assert read < CHUNKS * CHUNK_CHARS

            await eventually(lambda: realtime.hub.producing == 0, within_s=10)
            assert runner.produced == CHUNKS and runner.closed == 1, "the detached answer did not finish"
        finally:
            client.close()
