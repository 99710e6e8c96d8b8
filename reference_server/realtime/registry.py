"""Who is connected: admission up to a maximum, and the heartbeat that drops dead peers.

One sweeper task serves every connection (not a timer per connection). Connections are
dealt round-robin into ``SLICES`` groups and the sweeper visits one group every
``heartbeat_s / SLICES``, so each connection gets a ``ping`` once per heartbeat without
10,000 pings leaving in one burst. A connection that has sent nothing for two heartbeats
is closed, which frees everything it held.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

from reference_server.realtime.protocol import CLOSE_GOING_AWAY

SLICES = 10
#: Peers handled between two yields to the event loop during a sweep, so frames that
#: arrive meanwhile (a client's ping) wait behind at most this many heartbeat sends.
SWEEP_BATCH = 64


class Peer(Protocol):
    """What the registry needs from a connection."""

    last_seen: float

    def heartbeat(self) -> None:
        """Queue a ``ping`` without waiting."""

    def terminate(self, code: int, reason: str) -> None:
        """Close now and release everything."""


class ConnectionRegistry:
    """At most ``max_connections`` peers; a heartbeat sweep every ``heartbeat_s`` seconds."""

    def __init__(self, *, max_connections: int, heartbeat_s: float) -> None:
        self.max_connections = max_connections
        self.heartbeat_s = heartbeat_s
        self._slices: list[set[Peer]] = [set() for _ in range(SLICES)]
        self._slice_of: dict[Peer, int] = {}
        self._next_slice = 0
        self._sweeper: asyncio.Task[None] | None = None
        self.dropped_dead = 0

    def __len__(self) -> int:
        return len(self._slice_of)

    def admit(self, peer: Peer) -> bool:
        """Register ``peer`` if there is room (single event loop: no race between check and add)."""
        if len(self._slice_of) >= self.max_connections:
            return False
        index = self._next_slice
        self._next_slice = (index + 1) % SLICES
        self._slice_of[peer] = index
        self._slices[index].add(peer)
        return True

    def release(self, peer: Peer) -> None:
        index = self._slice_of.pop(peer, None)
        if index is not None:
            self._slices[index].discard(peer)

    def close_all(self, code: int, reason: str) -> int:
        """Close every connection (a restart or drain: clients reconnect and resume); returns how many."""
        peers = list(self._slice_of)
        for peer in peers:
            self.release(peer)
            peer.terminate(code, reason)
        return len(peers)

    @property
    def retry_after_s(self) -> float:
        """What a refused client is told: about one heartbeat, when dead peers will have been swept."""
        return max(1.0, min(30.0, self.heartbeat_s))

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="realtime-heartbeat")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def sweep(self, index: int) -> int:
        """Close slice ``index``'s peers silent for two heartbeats, ping the rest; returns how many closed."""
        dead_before = time.monotonic() - 2 * self.heartbeat_s
        closed = 0
        for position, peer in enumerate(list(self._slices[index])):
            if position and position % SWEEP_BATCH == 0:
                await asyncio.sleep(0)
            if peer not in self._slice_of:
                continue
            if peer.last_seen < dead_before:
                self.release(peer)
                peer.terminate(CLOSE_GOING_AWAY, "no heartbeat answer; reconnect")
                closed += 1
            else:
                peer.heartbeat()
        self.dropped_dead += closed
        return closed

    async def _sweep_forever(self) -> None:
        index = 0
        while True:
            await asyncio.sleep(self.heartbeat_s / SLICES)
            await self.sweep(index)
            index = (index + 1) % SLICES
