"""Helpers for tests that use the real Redis and PostgreSQL of this machine.

A test that needs a service calls :func:`require` (through the fixtures in
``conftest.py``): when the service is down it skips locally, and fails when
``CHATOPT_REQUIRE_SERVICES=1`` (set by ``.ci/run``), so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

REDIS_URL = os.environ.get("CHATOPT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_DSN = os.environ.get("CHATOPT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def services_required() -> bool:
    return os.environ.get("CHATOPT_REQUIRE_SERVICES") == "1"


def require(available: bool, what: str) -> None:
    """Fail (CI) or skip (local) when a service is missing."""
    if available:
        return
    message = f"{what} is not reachable; start it (see .ci/run) or unset CHATOPT_REQUIRE_SERVICES"
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port, 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout}s")


class PrivateRedis:
    """A redis-server of the test's own on a free port, for tests that kill Redis."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        require(binary is not None, "redis-server binary")
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
