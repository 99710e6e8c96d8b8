"""A reference server in the ``optimized`` profile in front of an upstream that records request headers."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_server.app import create_app
from reference_server.auth import issue_token
from reference_server.settings import ServerSettings, settings_for_profile
from tests.reference_server.upstream import FakeUpstream, ServerThread, upstream_app

SECRET = "observability-test-secret"


@dataclass
class HeaderCapture:
    """ASGI wrapper around the fake upstream that keeps every request's headers."""

    app: Any
    seen: list[dict[str, str]] = field(default_factory=list)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await self.app(scope, receive, send)


@dataclass
class Monitored:
    url: str
    settings: ServerSettings
    upstream: FakeUpstream
    capture: HeaderCapture
    app: Any
    client_ip: str = field(
        default_factory=lambda: ".".join(["10", *(str(random.randint(1, 254)) for _ in "abc")])
    )

    def headers(self, user: str = "alice", tier: str = "free", **extra: str) -> dict[str, str]:
        """Auth for ``user``, from this server's own client address (uvicorn trusts X-Forwarded-For
        from loopback), so per-IP windows in the shared Redis never mix tests or runs."""
        token = issue_token(SECRET, user, tier)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {token}", "X-Forwarded-For": self.client_ip, **extra}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=20)


@pytest.fixture
def monitored_server(tmp_path: Path) -> Iterator[Callable[..., Monitored]]:
    """``monitored_server(**overrides)``: optimized profile, SQLite, recording upstream; stopped after."""
    threads: list[ServerThread] = []

    def start(**overrides: Any) -> Monitored:
        fake = FakeUpstream()
        capture = HeaderCapture(upstream_app(fake))
        upstream = ServerThread(capture)
        upstream.start()
        threads.append(upstream)
        options = {
            "cache": False,
            "database_url": f"sqlite+aiosqlite:///{tmp_path}/chat-{len(threads)}.db",
            **overrides,
        }
        settings = settings_for_profile(
            "optimized", llm_base_url=f"{upstream.url}/v1", secret=SECRET, **options
        )
        app = create_app(settings)
        server = ServerThread(app)
        server.start()
        threads.append(server)
        return Monitored(server.url, settings, fake, capture, app)

    try:
        yield start
    finally:
        for thread in reversed(threads):
            thread.stop()
