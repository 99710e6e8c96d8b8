"""Realtime transports: WebSocket, SSE and long polling over one resumable stream hub.

``Realtime(settings, runner)`` gives the routes (``/ws``, ``/api/realtime/...``); answers
are streams of numbered events kept in a chunk log (mirrored to Redis), so any transport
on any instance can resume one from its last received ``seq``. See docs/REALTIME.md.
"""

from reference_server.realtime.chat import ChatEvent, ChatRequest, ChatRunner, Failure, Final, TokenChunk
from reference_server.realtime.service import Realtime

__all__ = ["ChatEvent", "ChatRequest", "ChatRunner", "Failure", "Final", "Realtime", "TokenChunk"]
