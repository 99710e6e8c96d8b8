"""Start the demo's servers as child processes and always stop them.

Each server is a ``python -m chatopt ...`` child on a free loopback port, ready once
its health URL answers. :class:`ProcessGroup` stops every child on exit, Ctrl-C
included, first politely (SIGTERM, so servers drain) and then for good.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from chatopt.errors import ChatoptError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """One running child server: its name, URL, process and log file."""

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait, then SIGKILL; safe to call twice."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)


@dataclass
class ProcessGroup:
    """Every server the demo started; a context manager that stops them all."""

    log_dir: Path
    servers: list[ServerProcess] = field(default_factory=list)

    def start(
        self,
        name: str,
        chatopt_args: Sequence[str],
        *,
        port: int,
        ready_path: str,
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> ServerProcess:
        """Run ``python -m chatopt ARGS`` and wait until ``ready_path`` answers 2xx."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "chatopt", *chatopt_args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        log_file.close()
        server = ServerProcess(name, f"http://127.0.0.1:{port}", process, log_path)
        self.servers.append(server)
        _wait_ready(server, ready_path, timeout)
        return server

    def stop(self, server: ServerProcess) -> None:
        server.stop()
        if server in self.servers:
            self.servers.remove(server)

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()


def _wait_ready(server: ServerProcess, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = server.base_url + path
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ChatoptError(
                f"{server.name} exited during start-up (code {server.process.returncode}):\n"
                f"{server.log_tail()}",
                hint=f"see {server.log_path}",
            )
        try:
            if httpx.get(url, timeout=1.0).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise ChatoptError(
        f"{server.name} did not answer {url} within {timeout:.0f}s", hint=f"see {server.log_path}"
    )
