"""The realtime service: one object that owns the hub, the registry and the throttle.

``Realtime(settings, runner)`` is built once per app; :meth:`Realtime.routes` gives the
WebSocket, SSE and long-poll routes and :meth:`Realtime.start` / :meth:`Realtime.stop`
belong in the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Route, WebSocketRoute

from reference_server.auth import Identity
from reference_server.realtime.chat import ChatRequest, ChatRunner
from reference_server.realtime.longpoll import cancel_stream, poll_stream, start_message
from reference_server.realtime.protocol import CLOSE_SERVICE_RESTART
from reference_server.realtime.registry import ConnectionRegistry
from reference_server.realtime.sse import stream_events
from reference_server.realtime.streams import Sink, StreamHub, StreamNotFound
from reference_server.realtime.websocket import websocket_endpoint
from reference_server.security.ratelimit import (
    RateDecision,
    RateLimitCheck,
    RateLimitPolicy,
    SlidingWindowLimiter,
)
from reference_server.settings import ServerSettings


@dataclass(frozen=True)
class StartedAnswer:
    """The stream that answers a message; ``duplicate`` when the client re-sent the same message."""

    stream_id: str
    duplicate: bool
    task: asyncio.Task[None] | None = None


class Realtime:
    """WebSocket / SSE / long polling over one stream hub, shared across instances by Redis.

    ``redis`` (a ``redis.asyncio.Redis``) defaults to a client of ``settings.redis_url``;
    keys and the Pub/Sub channel start with ``prefix``; a finished answer stays resumable
    for ``stream_ttl_s`` seconds.
    """

    def __init__(self, settings: ServerSettings, runner: ChatRunner, *, redis: Any | None = None,
                 prefix: str = "chatopt:rt:", stream_ttl_s: float = 600.0) -> None:
        self.settings = settings
        self.runner = runner
        self._own_redis = redis is None and settings.redis_url is not None
        if self._own_redis:
            import redis.asyncio as aioredis

            redis = aioredis.Redis.from_url(settings.redis_url)
        self.redis = redis
        self.hub = StreamHub(redis=redis, prefix=prefix, ttl_s=stream_ttl_s)
        self.registry = ConnectionRegistry(
            max_connections=settings.ws_max_connections, heartbeat_s=settings.ws_heartbeat_s
        )
        self.throttle_policy = RateLimitPolicy("messages", settings.ws_messages_per_minute, 60.0)
        self.limiter = SlidingWindowLimiter(
            redis, prefix=f"{prefix}throttle:", fail_open=settings.rate_fail_open
        )
        #: A client that does not read for this long is closed (one heartbeat, like a dead peer).
        self.stuck_s = settings.ws_heartbeat_s

    def routes(self) -> list[BaseRoute]:
        return [
            WebSocketRoute("/ws", websocket_endpoint(self)),
            Route("/api/realtime/messages", start_message(self), methods=["POST"]),
            Route("/api/realtime/streams/{stream_id}/poll", poll_stream(self), methods=["GET"]),
            Route("/api/realtime/streams/{stream_id}/events", stream_events(self), methods=["GET"]),
            Route("/api/realtime/streams/{stream_id}/cancel", cancel_stream(self), methods=["POST"]),
        ]

    async def start(self) -> None:
        await self.hub.start()
        self.registry.start()

    async def stop(self) -> None:
        """Tell every client to reconnect (1012, service restart), then end what is still producing."""
        await self.registry.stop()
        self.registry.close_all(CLOSE_SERVICE_RESTART, "server restarting; reconnect and resume")
        await self.hub.stop()
        if self._own_redis and self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()

    async def throttle(self, identity: Identity) -> RateDecision:
        """Count one message against the user's per-minute budget."""
        return await self.limiter.hit(RateLimitCheck(self.throttle_policy, identity.user_id))

    async def check_reader(self, identity: Identity, stream_id: str) -> None:
        """Raise :class:`StreamNotFound` unless ``identity`` owns ``stream_id`` (others' look absent)."""
        if await self.hub.owner(stream_id) != identity.user_id:
            raise StreamNotFound(f"no stream {stream_id!r} here (it never existed or expired)")

    @property
    def at_capacity(self) -> bool:
        """True when this instance already produces as many answers as it is sized for."""
        return self.hub.producing >= self.settings.capacity_inflight

    async def start_answer(self, identity: Identity, message: str, conversation_id: str | None,
                           client_msg_id: str | None, sink: Sink | None = None,
                           before_start: Sink | None = None) -> StartedAnswer:
        """Start (or find, for a re-sent ``client_msg_id``) the stream answering ``message``.

        ``before_start`` receives the ``started`` frame before the first event is produced.
        """
        stream_id = self.hub.new_stream_id()
        if client_msg_id is not None:
            existing = await self.hub.claim(identity.user_id, client_msg_id, stream_id)
            if existing is not None:
                return StartedAnswer(existing, duplicate=True)
        record = await self.hub.open(stream_id, identity.user_id)
        if before_start is not None:
            await before_start({"type": "started", "stream_id": stream_id, "client_msg_id": client_msg_id})
        request = ChatRequest(identity=identity, message=message, conversation_id=conversation_id,
                              client_msg_id=client_msg_id)
        task = self.hub.spawn(stream_id, record, self.runner(request), sink)
        return StartedAnswer(stream_id, duplicate=False, task=task)
