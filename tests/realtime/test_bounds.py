"""Every per-stream and per-connection structure is bounded or expires."""

from __future__ import annotations

import time

import pytest

from reference_server.realtime.chunklog import LocalChunkLog, StreamTooLong
from reference_server.realtime.fanout import Waiters
from reference_server.realtime.registry import ConnectionRegistry
from reference_server.realtime.streams import StreamHub


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_chunk_log_keeps_at_most_max_streams_and_forgets_expired_ones() -> None:
    clock = Clock()
    log = LocalChunkLog(ttl_s=10, max_streams=3, max_events=100, clock=clock)
    for index in range(5):
        log.create(f"s{index}", "alice")
    assert len(log) == 3 and log.get("s0") is None and log.get("s4") is not None
    clock.now = 11
    assert log.get("s4") is None
    log.create("fresh", "alice")
    assert len(log) == 1


def test_a_stream_longer_than_max_events_is_refused_but_can_still_end() -> None:
    log = LocalChunkLog(ttl_s=10, max_streams=3, max_events=2, clock=Clock())
    record = log.create("s", "alice")
    log.append("s", record, {"type": "token", "seq": 1})
    log.append("s", record, {"type": "token", "seq": 2})
    with pytest.raises(StreamTooLong):
        log.append("s", record, {"type": "token", "seq": 3})
    log.append("s", record, {"type": "error", "seq": 3, "code": "too_long"})
    assert record.done and len(record.events) == 3


async def test_waiters_exist_only_while_someone_waits() -> None:
    waiters = Waiters()
    with waiters.hold("s") as first, waiters.hold("s") as second:
        assert first is second and len(waiters) == 1
    assert len(waiters) == 0
    with waiters.hold("s") as event:
        waiters.wake("s")
        assert event.is_set() and len(waiters) == 0
    assert len(waiters) == 0


async def test_a_read_that_times_out_leaves_no_waiter_behind() -> None:
    hub = StreamHub()
    await hub.open("s", "alice")
    result = await hub.read("s", 0, wait_s=0.05)
    assert result.events == [] and not result.done and len(hub.waiters) == 0


async def test_client_message_claims_are_bounded() -> None:
    hub = StreamHub(max_claims=10)
    for index in range(50):
        assert await hub.claim("alice", f"m{index}", f"s{index}") is None
    assert await hub.claim("alice", "m49", "other") == "s49"
    assert len(hub._claims) == 10


class Peer:
    def __init__(self) -> None:
        self.last_seen = 0.0
        self.pings = 0
        self.closed: tuple[int, str] | None = None

    def heartbeat(self) -> None:
        self.pings += 1

    def terminate(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


async def test_registry_admits_up_to_the_maximum_and_sweeps_every_slice() -> None:
    registry = ConnectionRegistry(max_connections=25, heartbeat_s=1000)
    peers = [Peer() for _ in range(30)]
    admitted = [registry.admit(peer) for peer in peers]
    assert admitted == [True] * 25 + [False] * 5
    now = time.monotonic()
    for peer in peers[:25]:
        peer.last_seen = now
    peers[0].last_seen = -1e9
    closed = sum([await registry.sweep(index) for index in range(10)])
    assert closed == 1 and peers[0].closed[0] == 1001
    assert all(peer.pings == 1 for peer in peers[1:25]) and len(registry) == 24
    assert registry.close_all(1012, "restart") == 24 and len(registry) == 0
