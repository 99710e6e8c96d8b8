"""The load generator's chat client: gevent-friendly, timestamps every read as it arrives.

It uses ``geventhttpclient`` (the client under locust's ``FastHttpUser``) for HTTP and
the ``websockets`` sync client for WebSocket targets, and hands every byte to the same
:class:`chatopt.targets.ExchangeRecorder` the asyncio client uses, so parsing and
timing are identical in audit, pre-flight and load. Import only under gevent.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPSocketPoolResponse

from chatopt.targets import (
    ChatExchange,
    ExchangeRecorder,
    Target,
    build_request,
    classify_failure,
    websocket_url,
)

_READ_SIZE = 65536


def _read_available(response: HTTPSocketPoolResponse) -> bytes:
    """Whatever body bytes have arrived (blocking only until at least one does); b"" at the end."""
    buffer = response._body_buffer
    while not buffer:
        sock = response._sock
        if response.message_complete or sock is None:
            return b""
        data = sock.recv(_READ_SIZE)
        if not data:
            response.release()
            return b""
        response.feed(data)
    data = bytes(buffer)
    del buffer[:]
    return data


class ChatClient:
    """Sends chat messages to one target over kept-alive connections (``concurrency`` at once)."""

    def __init__(self, target: Target, *, concurrency: int = 1) -> None:
        self.target = target
        parts = urlsplit(target.url)
        self._path = parts.path or "/"
        if parts.query:
            self._path += "?" + parts.query
        self._websocket = target.mode == "websocket" or parts.scheme in ("ws", "wss")
        self._http: HTTPClient | None = None
        if not self._websocket:
            self._http = HTTPClient.from_url(
                target.url,
                concurrency=concurrency,
                connection_timeout=min(10.0, target.timeout_s),
                network_timeout=target.timeout_s,
                insecure=not target.verify_tls,
            )

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def send(
        self,
        message: str,
        *,
        conversation_id: str | None = None,
        user_id: str | None = None,
        history: Sequence[Mapping[str, str]] = (),
        started: float | None = None,
    ) -> ChatExchange:
        """One timed exchange; failures become data (``error_kind``), never exceptions."""
        request = build_request(
            self.target, message, conversation_id=conversation_id, user_id=user_id, history=history
        )
        exchange = ChatExchange(started=time.perf_counter() if started is None else started)
        recorder = ExchangeRecorder(self.target, exchange)
        try:
            with gevent.Timeout(self.target.timeout_s, TimeoutError):
                if self._websocket:
                    self._send_websocket(request.url, request.headers, request.body, recorder)
                else:
                    self._send_http(request.method, request.headers, request.body, recorder)
        except gevent.GreenletExit:
            raise
        except Exception as exc:  # every transport failure is a sample, not a crash
            kind, text = classify_failure(exc)
            return recorder.fail(time.perf_counter(), kind, text)
        return recorder.finish(time.perf_counter())

    def _send_http(
        self, method: str, headers: Mapping[str, str], body: bytes, recorder: ExchangeRecorder
    ) -> None:
        assert self._http is not None
        recorder.exchange.sent = time.perf_counter()
        response = self._http.request(method, self._path, body=body, headers=dict(headers))
        try:
            recorder.on_headers(response.status_code, dict(response.items()))
            while True:
                data = _read_available(response)
                if not data:
                    break
                if not recorder.done:
                    recorder.on_bytes(time.perf_counter(), data)
        finally:
            response.release()

    def _send_websocket(
        self, url: str, headers: Mapping[str, str], body: bytes, recorder: ExchangeRecorder
    ) -> None:
        from websockets.sync.client import connect

        extra = {key: value for key, value in headers.items() if key.lower() != "content-type"}
        ws_url = websocket_url(url)
        context = None
        if ws_url.startswith("wss://") and not self.target.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        recorder.exchange.sent = time.perf_counter()
        with connect(
            ws_url, additional_headers=extra, ssl=context, open_timeout=self.target.timeout_s
        ) as socket:
            recorder.on_headers(101, {"content-type": "websocket"})
            recorder.exchange.mode = "websocket"
            socket.send(json.dumps(json.loads(body)))
            while not recorder.done:
                recorder.on_message(time.perf_counter(), socket.recv(timeout=self.target.timeout_s))
