"""Fixtures of the server tests: a scripted upstream, and the reference server on a real socket."""

from __future__ import annotations

import uuid
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

TEST_SECRET = "test-secret-for-the-reference-server"


@dataclass
class RunningServer:
    url: str
    settings: ServerSettings
    upstream: FakeUpstream
    #: Makes user ids unique per test: rate limits in the shared Redis outlive a test.
    user_suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def token(self, user: str = "alice", tier: str = "free") -> str:
        return issue_token(self.settings.secret, f"{user}-{self.user_suffix}", tier)  # type: ignore[arg-type]

    def headers(self, user: str = "alice", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}", **extra}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=20)


@pytest.fixture
def upstream() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream()
    thread = ServerThread(upstream_app(fake))
    thread.start()
    try:
        yield fake, f"{thread.url}/v1"
    finally:
        thread.stop()


@pytest.fixture
def start_server(
    upstream: tuple[FakeUpstream, str], tmp_path: Path
) -> Iterator[Callable[..., RunningServer]]:
    """``start_server(profile, database_url=None, **overrides)`` runs the server until the test ends."""
    fake, base_url = upstream
    threads: list[ServerThread] = []

    def start(profile: str = "baseline", database_url: str | None = None, **overrides: Any) -> RunningServer:
        # answers cached per user: with the unique user ids, no answer leaks in from another test
        overrides = {"cache_scope": "user", **overrides}
        settings = settings_for_profile(
            profile,  # type: ignore[arg-type]
            llm_base_url=base_url,
            secret=TEST_SECRET,
            database_url=database_url or f"sqlite+aiosqlite:///{tmp_path}/chat-{len(threads)}.db",
            **overrides,
        )
        thread = ServerThread(create_app(settings))
        thread.start()
        threads.append(thread)
        return RunningServer(url=thread.url, settings=settings, upstream=fake)

    try:
        yield start
    finally:
        for thread in threads:
            thread.stop()
