"""``GET /ws``: the WebSocket endpoint speaking the protocol of :mod:`.protocol`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from reference_server.auth import InvalidToken
from reference_server.realtime.connection import Connection
from reference_server.realtime.credentials import identity_of
from reference_server.realtime.protocol import (
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_TRY_AGAIN_LATER,
    Cancel,
    ClientFrame,
    Ping,
    ProtocolError,
    Resume,
    SendMessage,
    error_frame,
    parse_client_frame,
)
from reference_server.realtime.streams import SinkGone, StreamNotFound, StreamStalled

if TYPE_CHECKING:
    from reference_server.realtime.service import Realtime

#: Streams one WebSocket may produce or follow at the same time.
MAX_STREAMS = 4

def websocket_endpoint(realtime: Realtime) -> Callable[[WebSocket], Awaitable[None]]:
    """The ``/ws`` handler bound to ``realtime``."""

    async def endpoint(websocket: WebSocket) -> None:
        settings = realtime.settings
        try:
            identity = identity_of(websocket, settings.secret)
        except InvalidToken as exc:
            await websocket.accept()
            await websocket.send_json(error_frame("unauthorized", str(exc)))
            await websocket.close(CLOSE_POLICY, "unauthorized")
            return
        connection = Connection(websocket, identity, send_buffer=settings.ws_send_buffer,
                                stuck_s=realtime.stuck_s)
        if not realtime.registry.admit(connection):
            retry = realtime.registry.retry_after_s
            await websocket.accept()
            await websocket.send_json(error_frame(
                "at_capacity", f"this server holds its maximum of {realtime.registry.max_connections} "
                "connections; reconnect later (or to another instance)", retry))
            await websocket.close(CLOSE_TRY_AGAIN_LATER, f"at capacity; retry in {retry:g}s")
            return
        try:
            await websocket.accept()
            session = _Session(realtime, connection)
            await connection.serve(session.on_text)
        finally:
            realtime.registry.release(connection)

    return endpoint


class _Session:
    """Acts on one connection's frames."""

    def __init__(self, realtime: Realtime, connection: Connection) -> None:
        self.realtime = realtime
        self.connection = connection
        self.max_frame_chars = realtime.settings.max_body_bytes

    async def on_text(self, text: str) -> None:
        if len(text) > self.max_frame_chars:
            self.connection.offer(error_frame(
                "frame_too_large", f"frames are limited to {self.max_frame_chars} characters"))
            await self.connection.close(CLOSE_TOO_BIG, "frame too large")
            return
        try:
            frame = parse_client_frame(text, self.realtime.settings.max_message_chars)
        except ProtocolError as exc:
            self.connection.offer(error_frame(exc.code, exc.message))
            return
        await self.dispatch(frame)

    async def dispatch(self, frame: ClientFrame) -> None:
        if isinstance(frame, Ping):
            self.connection.offer({"type": "pong", "ts": frame.ts, "server_ts": time.time()})
        elif isinstance(frame, SendMessage):
            await self.send_message(frame)
        elif isinstance(frame, Resume):
            await self.resume(frame.stream_id, frame.after_seq)
        elif isinstance(frame, Cancel):
            await self.cancel(frame.stream_id)

    def _busy(self, client_msg_id: str | None = None) -> bool:
        connection = self.connection
        if len(connection.producers) + len(connection.followers) < MAX_STREAMS:
            return False
        connection.offer(error_frame(
            "busy", f"at most {MAX_STREAMS} answers at a time per connection; wait for one to finish", 1.0,
            client_msg_id=client_msg_id))
        return True

    async def send_message(self, frame: SendMessage) -> None:
        connection, realtime = self.connection, self.realtime
        if self._busy(frame.client_msg_id):
            return
        if realtime.at_capacity:
            connection.offer(error_frame("overloaded", "the server is at capacity; try again shortly", 2.0,
                                         client_msg_id=frame.client_msg_id))
            return
        decision = await realtime.throttle(connection.identity)
        if not decision.allowed:
            connection.offer(error_frame(
                "rate_limited",
                f"at most {realtime.throttle_policy.limit} messages per minute; wait before sending more",
                decision.retry_after_s, client_msg_id=frame.client_msg_id))
            return
        started = await realtime.start_answer(
            connection.identity, frame.message, frame.conversation_id, frame.client_msg_id,
            sink=connection.deliver, before_start=connection.deliver,
        )
        if started.duplicate:
            connection.offer({"type": "started", "stream_id": started.stream_id,
                              "client_msg_id": frame.client_msg_id, "duplicate": True})
            await self.resume(started.stream_id, 0)
            return
        if started.task is not None:
            connection.producers[started.stream_id] = started.task
            started.task.add_done_callback(lambda _: connection.producers.pop(started.stream_id, None))

    async def resume(self, stream_id: str, after_seq: int) -> None:
        connection = self.connection
        if stream_id in connection.producers or stream_id in connection.followers or self._busy():
            return
        try:
            await self.realtime.check_reader(connection.identity, stream_id)
        except StreamNotFound as exc:
            connection.offer(error_frame("not_found", str(exc), stream_id=stream_id))
            return
        task = asyncio.create_task(self._follow(stream_id, after_seq))
        connection.followers[stream_id] = task
        task.add_done_callback(lambda _: connection.followers.pop(stream_id, None))

    async def _follow(self, stream_id: str, after_seq: int) -> None:
        connection, heartbeat_s = self.connection, self.realtime.settings.ws_heartbeat_s
        try:
            async for batch in self.realtime.hub.follow(stream_id, after_seq, heartbeat_s):
                for event in batch.events:
                    await connection.deliver(event)
        except SinkGone:
            return
        except StreamStalled as exc:
            connection.offer(error_frame("stalled", str(exc), 1.0, stream_id=stream_id))

    async def cancel(self, stream_id: str) -> None:
        """Stop the answer wherever it is produced (its stream ends ``cancelled``); else just unfollow it."""
        connection = self.connection
        if stream_id not in connection.producers and stream_id not in connection.followers:
            connection.offer(error_frame("not_found", f"this connection has no stream {stream_id!r}",
                                         stream_id=stream_id))
            return
        if not await self.realtime.hub.cancel(stream_id) and stream_id in connection.followers:
            connection.followers[stream_id].cancel()

