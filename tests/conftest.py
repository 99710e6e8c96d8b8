"""Shared fixtures: real Redis and PostgreSQL, isolated per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests import services


@pytest.fixture
def redis_url() -> str:
    """URL of the machine's Redis (fails in CI when it is down)."""
    parsed = urlparse(services.REDIS_URL)
    services.require(services.port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379), "Redis")
    return services.REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"chatopt-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
async def redis_client(redis_url: str, redis_prefix: str) -> AsyncIterator:
    """An async Redis client on the real server (use ``redis_prefix`` for keys)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    await client.ping()
    yield client
    await client.aclose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[services.PrivateRedis]:
    """A redis-server of this test's own on a free port (safe to kill)."""
    server = services.PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def _admin_execute(sql: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(services.POSTGRES_ADMIN_DSN, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture
def postgres_dsn() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own (plain DSN), dropped afterwards."""
    parsed = urlparse(services.POSTGRES_ADMIN_DSN)
    services.require(services.port_open(parsed.hostname or "127.0.0.1", parsed.port or 5432), "PostgreSQL")
    name = f"chatopt_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed._replace(path=f"/{name}").geturl()
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_dsn: str) -> str:
    """The same fresh database as an SQLAlchemy asyncpg URL."""
    return postgres_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture(scope="session")
def mock_llm() -> Iterator:
    """A running mock OpenAI-compatible LLM, FAST (5 ms TTFT, 5,000 tokens/s), shared by the session.

    Use ``mock_llm.base_url`` (ends in ``/v1``) with the official client::

        client = openai.AsyncOpenAI(base_url=mock_llm.base_url, api_key="unused", max_retries=0)

    Model names map to the ``small`` / ``medium`` / ``large`` tiers (``gpt-4o-mini``, ``gpt-4o``,
    ``gpt-4``, ``mock-small`` ...; any other name is ``medium``). Answers are deterministic per
    messages + seed. Ask for a fault on one request with the ``X-Mock-Fault`` header, e.g.
    ``extra_headers={"X-Mock-Fault": "error=503"}`` or ``"rate-limit=1"``, ``"hang=2"``,
    ``"slow-first-token=300"``, ``"cut=5"``, ``"bad-answer=refusal"`` (see ``chatopt/mockllm/faults.py``).
    ``POST /v1/embeddings`` returns real 384-d MiniLM vectors.
    """
    from chatopt.mockllm import MockConfig, MockLLMServer

    with MockLLMServer(MockConfig.fast()) as server:
        yield server


@pytest.fixture
def start_mock_llm() -> Iterator:
    """Factory: ``start_mock_llm(config)`` starts a mock LLM of this test's own and returns it.

    ``config`` is a dict (merged into the defaults, e.g. ``{"tiers": {"small": {"base_ms": 50}},
    "faults": {"error_rate": 0.5}}``), a ``MockConfig`` (``MockConfig.fast(faults={...})``) or a
    YAML path. Every server started is stopped when the test ends.
    """
    from chatopt.mockllm import MockLLMServer

    servers: list = []

    def start(config=None) -> MockLLMServer:
        server = MockLLMServer(config).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
