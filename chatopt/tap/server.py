"""Run the tap on a port in a background thread (its own event loop), for the CLI and the audit."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn

from chatopt.errors import ChatoptError
from chatopt.tap.calls import AICall
from chatopt.tap.faults import FaultPlan
from chatopt.tap.proxy import TapProxy


class TapServer:
    """The tap listening on ``host:port``; use as a context manager or ``start()``/``stop()``."""

    def __init__(
        self,
        upstream: str,
        port: int,
        *,
        host: str = "127.0.0.1",
        trace_path: Path | None = None,
        on_call: Callable[[AICall], None] | None = None,
    ) -> None:
        if not upstream.startswith(("http://", "https://")):
            raise ChatoptError(
                f"upstream {upstream!r} is not an http(s) URL",
                hint="e.g. --upstream http://127.0.0.1:9100/v1",
            )
        self.host, self.port = host, port
        self.proxy = TapProxy(upstream, trace_path=trace_path, faults=FaultPlan(), on_call=on_call)
        config = uvicorn.Config(
            self.proxy,
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What a backend's ``OPENAI_BASE_URL`` should be set to."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout_s: float = 10.0) -> TapServer:
        listener = _listen(self.host, self.port)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, name="chatopt-tap", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ChatoptError(
                    f"the tap could not listen on {self.host}:{self.port}", hint="pick another --tap-port"
                )
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.proxy.wait_settled(5.0)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> TapServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket whose accepted connections have Nagle's algorithm off.

    Accepted sockets inherit TCP_NODELAY from the listener. Without it a streamed answer's
    first chunk, written right after the response headers, waits for the backend's delayed
    ACK (~40 ms on Linux): exactly the lag the tap must not add.
    """
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ChatoptError(
            f"cannot listen on {host}:{port}: {exc.strerror}", hint="pick another port"
        ) from exc
    listener.listen(1024)
    return listener
