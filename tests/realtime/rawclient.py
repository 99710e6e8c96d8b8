"""A bare WebSocket client on a plain socket: it sends when told and reads only when told.

Library clients read in the background; to test a peer that stops reading (or dies
without a word) the test needs a client that does nothing on its own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any


class RawWebSocket:
    """One client connection driven by the event loop's socket functions."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    async def connect(cls, host: str, port: int, path: str,
                      receive_buffer: int | None = None) -> RawWebSocket:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await loop.sock_sendall(sock, request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 1), 5)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            response += chunk
        if not response.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(response.decode(errors="replace"))
        return cls(sock)

    async def send_json(self, frame: dict[str, Any]) -> None:
        payload = json.dumps(frame).encode()
        mask = os.urandom(4)
        header = bytearray([0x81])
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        else:
            header.append(0x80 | 126)
            header += struct.pack("!H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        await asyncio.get_running_loop().sock_sendall(self.sock, bytes(header) + mask + masked)

    async def drain_until_closed(self, within_s: float) -> tuple[int, BaseException | None]:
        """Read everything until EOF or an error; (bytes read, the error if any)."""
        loop = asyncio.get_running_loop()
        total = 0
        try:
            async with asyncio.timeout(within_s):
                while True:
                    chunk = await loop.sock_recv(self.sock, 1 << 16)
                    if not chunk:
                        return total, None
                    total += len(chunk)
        except (OSError, TimeoutError) as exc:
            return total, exc

    def close(self) -> None:
        self.sock.close()
