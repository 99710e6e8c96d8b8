"""One WebSocket connection: a bounded send queue, its writer, and a clean end on every path.

Everything the server sends goes through ``outbox`` (at most ``send_buffer`` frames).
Stream producers :meth:`Connection.deliver` with backpressure: while the queue is full
they wait, which pauses their upstream; a client that stays stuck for ``stuck_s`` is
closed, never buffered without bound. Control frames (pong, heartbeat ping, errors) are
:meth:`Connection.offer`-ed and simply dropped when the queue is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket

from reference_server.auth import Identity
from reference_server.realtime.protocol import CLOSE_POLICY, encode
from reference_server.realtime.streams import SinkGone

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 1.0
FLUSH_BEFORE_CLOSE_S = 0.5


class Connection:
    """A connected, authenticated client and everything it holds."""

    def __init__(self, websocket: WebSocket, identity: Identity, *, send_buffer: int, stuck_s: float) -> None:
        self.websocket = websocket
        self.identity = identity
        self.stuck_s = stuck_s
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=send_buffer)
        self.last_seen = time.monotonic()
        #: Answers this connection started (they outlive it, into the chunk log), by stream id.
        self.producers: dict[str, asyncio.Task[None]] = {}
        #: Streams this connection replays and follows (they end with it), by stream id.
        self.followers: dict[str, asyncio.Task[None]] = {}
        self.closed = False
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    async def serve(self, on_text: Callable[[str], Awaitable[None]]) -> None:
        """Write from the outbox and hand every text frame to ``on_text`` until the peer leaves."""
        self._writer = asyncio.create_task(self._write_loop())
        try:
            while not self.closed:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                self.last_seen = time.monotonic()
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", errors="replace")
                if text is not None:
                    await on_text(text)
        finally:
            await self.dispose()

    async def deliver(self, frame: dict[str, Any]) -> None:
        """Queue a stream event, waiting while the queue is full (backpressure).

        Raises :class:`SinkGone` once the connection is closed.
        """
        if self.closed:
            raise SinkGone
        text = encode(frame)
        if not self.outbox.full():
            self.outbox.put_nowait(text)
            return
        try:
            async with asyncio.timeout(self.stuck_s):
                await self.outbox.put(text)
        except TimeoutError:
            self.terminate(CLOSE_POLICY, f"not reading for {self.stuck_s:g}s; reconnect and resume")
            raise SinkGone from None
        if self.closed:
            raise SinkGone

    def offer(self, frame: dict[str, Any]) -> bool:
        """Queue a control frame if there is room; False (dropped) when the client is not reading."""
        if self.closed:
            return False
        try:
            self.outbox.put_nowait(encode(frame))
        except asyncio.QueueFull:
            return False
        return True

    def heartbeat(self) -> None:
        self.offer({"type": "ping", "ts": time.time()})

    def terminate(self, code: int, reason: str) -> None:
        """Close from the server side (idempotent); a peer that cannot take the close frame is cut off."""
        if self.closed:
            return
        self.closed = True
        self._closer = asyncio.create_task(self._close(code, reason))

    async def close(self, code: int, reason: str) -> None:
        """Close and wait until the close frame is out (or the transport is aborted)."""
        self.terminate(code, reason)
        if self._closer is not None:
            await self._closer

    async def dispose(self) -> None:
        """Release everything: writer, followers, queued frames (producers carry on into the log)."""
        self.closed = True
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        for task in list(self.followers.values()):
            task.cancel()
        self.followers.clear()
        self.producers.clear()
        while not self.outbox.empty():
            self.outbox.get_nowait()

    async def _close(self, code: int, reason: str) -> None:
        # Let frames already queued (say, the error that explains the close) go out first.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_BEFORE_CLOSE_S):
                await self.outbox.join()
        if self._writer is not None:
            self._writer.cancel()
        try:
            await asyncio.wait_for(self.websocket.close(code, reason), CLOSE_TIMEOUT_S)
        except Exception:  # stuck, already gone, or timed out: cut the transport instead
            if not abort_transport(self.websocket):
                log.debug("could not abort the transport of a stuck WebSocket")

    async def _write_loop(self) -> None:
        # asyncio.timeout (a timer) rather than wait_for (a task per frame): this runs per frame.
        while True:
            text = await self.outbox.get()
            try:
                async with asyncio.timeout(self.stuck_s):
                    await self.websocket.send_text(text)
                self.outbox.task_done()
            except TimeoutError:
                self.terminate(CLOSE_POLICY, f"not reading for {self.stuck_s:g}s; reconnect and resume")
                return
            except Exception:  # the peer is gone; the reader sees the disconnect
                self.closed = True
                return


def abort_transport(websocket: WebSocket) -> bool:
    """Cut the TCP connection under ``websocket`` (True if the server exposes its transport).

    ASGI has no "abort": a close frame queued behind a peer that does not read would pin
    the socket forever. uvicorn's ``send`` is a method of its protocol object, which owns
    the transport; middleware may wrap it in closures, so those are followed a few levels.
    The socket is reset (``SO_LINGER`` 0), so the kernel drops the unsent backlog too.
    """
    pending: list[Any] = [getattr(websocket, "_send", None)]
    for _ in range(6):
        next_level: list[Any] = []
        for candidate in pending:
            transport = getattr(getattr(candidate, "__self__", None), "transport", None)
            if transport is not None and hasattr(transport, "abort"):
                _discard_unsent_on_close(transport)
                transport.abort()
                return True
            for cell in getattr(candidate, "__closure__", None) or ():
                with contextlib.suppress(ValueError):
                    if callable(cell.cell_contents):
                        next_level.append(cell.cell_contents)
        pending = next_level
    return False


def _discard_unsent_on_close(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
