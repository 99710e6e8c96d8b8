"""Run the mock LLM under uvicorn: in a background thread (tests, demos) or in the foreground (CLI)."""

from __future__ import annotations

import gc
import socket
import threading
import time
from typing import Any

import uvicorn

from chatopt.errors import ChatoptError
from chatopt.mockllm.app import create_app, quiet_stream_cut_logs, warm_up
from chatopt.mockllm.config import MockConfig, load_config


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port=0`` picks a free one), or a clear error when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ChatoptError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="choose another --port or stop what uses it",
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(
    app: Any, *, loop: str = "asyncio", log_level: str = "warning", access_log: bool = False
) -> uvicorn.Config:
    """uvicorn settings for the mock: httptools when installed, no per-request logging.

    The standard asyncio loop is the default on purpose: its clock is high-resolution and its
    timers wake at (never before) the millisecond asked for, so one sleep per token suffices.
    uvloop's clock and timers are millisecond-coarse and round to the nearest millisecond,
    which wakes streams early and costs extra wake-ups per token.
    """
    return uvicorn.Config(
        app,
        loop=loop,
        http="auto",
        lifespan="off",
        log_level=log_level,
        access_log=access_log,
        timeout_keep_alive=30,
        backlog=2048,
    )


class MockLLMServer:
    """The mock LLM on a TCP port, served from a background thread.

    Use as a context manager or call :meth:`start` / :meth:`stop`::

        with MockLLMServer(MockConfig.fast()) as mock:
            client = openai.OpenAI(base_url=mock.base_url, api_key="unused")
    """

    def __init__(
        self,
        config: MockConfig | dict[str, Any] | str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = load_config(config)
        self.host = host
        self._requested_port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the mock LLM server is not started")
        return self._socket.getsockname()[1]

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:9100``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI client's ``base_url``, e.g. ``http://127.0.0.1:9100/v1``."""
        return f"{self.url}/v1"

    def start(self, timeout: float = 15.0) -> MockLLMServer:
        """Start serving and return once the server accepts requests."""
        quiet_stream_cut_logs()
        warm_up()
        self._socket = bind_socket(self.host, self._requested_port)
        self._server = uvicorn.Server(uvicorn_config(create_app(self.config)))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="chatopt-mock-llm", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the mock LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (open streams are closed) and release the port."""
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> MockLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_forever(config: MockConfig, *, host: str, port: int, log_level: str = "warning") -> None:
    """Serve in the foreground until Ctrl-C (SIGINT/SIGTERM); ``info`` or ``debug`` also log each request."""
    quiet_stream_cut_logs()
    sock = bind_socket(host, port)
    warm_up()
    gc.collect()
    gc.freeze()  # start-up objects never need scanning again: shorter pauses while streaming
    try:
        access_log = log_level in ("info", "debug")
        server_config = uvicorn_config(create_app(config), log_level=log_level, access_log=access_log)
        uvicorn.Server(server_config).run(sockets=[sock])
    finally:
        sock.close()
