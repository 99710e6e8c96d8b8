"""Who is connected: admission up to a maximum, and the heartbeat that drops dead peers.

One sweeper task serves every connection (not a timer per connection): each
``heartbeat_s`` it sends a ``ping`` to every connection and closes those that have sent
nothing for two heartbeats, which frees everything they held.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol


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
        self._peers: set[Peer] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.dropped_dead = 0

    def __len__(self) -> int:
        return len(self._peers)

    def admit(self, peer: Peer) -> bool:
        """Register ``peer`` if there is room (single event loop: no race between check and add)."""
        if len(self._peers) >= self.max_connections:
            return False
        self._peers.add(peer)
        return True

    def release(self, peer: Peer) -> None:
        self._peers.discard(peer)

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

    def sweep(self, now: float | None = None) -> int:
        """Close peers silent for two heartbeats, ping the rest; returns how many were closed."""
        now = time.monotonic() if now is None else now
        dead_before = now - 2 * self.heartbeat_s
        closed = 0
        for peer in list(self._peers):
            if peer.last_seen < dead_before:
                self._peers.discard(peer)
                peer.terminate(1001, "no heartbeat answer; reconnect")
                closed += 1
            else:
                peer.heartbeat()
        self.dropped_dead += closed
        return closed

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            self.sweep()
