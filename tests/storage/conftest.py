"""Stores under test: every implementation on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest

from reference_server.storage.base import ChatStore, Message
from reference_server.storage.blocking_store import BlockingSqlStore
from reference_server.storage.hot_tier import RedisHotTier
from reference_server.storage.sql_store import SqlChatStore
from reference_server.storage.tiered_store import TieredChatStore, WarmStore
from tests import services
from tests.storage.private_postgres import PrivatePostgres

SECRET = "test-secret"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_message(conversation_id: str, index: int, at: datetime | None = None, role: str = "user") -> Message:
    """A message whose content names its index; one second apart by default."""
    return Message(
        id=uuid.uuid4().hex,
        conversation_id=conversation_id,
        role=role,
        content=f"message {index}",
        created_at=at or T0 + timedelta(seconds=index),
        model="large" if role == "assistant" else None,
        prompt_tokens=10 if role == "assistant" else None,
        completion_tokens=5 if role == "assistant" else None,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'history.db'}"
    return request.getfixturevalue("postgres_url")


StoreBuilder = Callable[[str, pytest.FixtureRequest], ChatStore]


def tiered(url: str, request: pytest.FixtureRequest, warm: WarmStore | None = None) -> TieredChatStore:
    """A Redis hot tier (capacity 8) on the machine's Redis, under this test's key prefix,
    in front of ``warm`` (batched async SQL by default)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    hot = RedisHotTier(client, capacity=8, prefix=request.getfixturevalue("redis_prefix"))
    warm = warm or SqlChatStore(url, secret=SECRET, batch_writes=True, batch_size=8, batch_ms=2)
    return TieredChatStore(warm, hot, owns_redis=True)


STORE_KINDS: dict[str, StoreBuilder] = {
    "async": lambda url, _: SqlChatStore(url, secret=SECRET, batch_writes=False),
    "blocking": lambda url, _: BlockingSqlStore(url, secret=SECRET),
    "batched": lambda url, _: SqlChatStore(url, secret=SECRET, batch_writes=True, batch_size=8, batch_ms=2),
    "tiered": tiered,
    "tiered_blocking": lambda url, request: tiered(url, request, BlockingSqlStore(url, secret=SECRET)),
}


#: (kind, backend) pairs under the contract tests, trimmed to what adds a code path: the
#: unbatched async store and the hot tier over the blocking store on SQLite, the hot tier
#: over the batched store on PostgreSQL (its SQL half is the batched store's, run on both).
STORE_MATRIX = [
    pytest.param(
        (kind, backend),
        id=f"{kind}-{backend}",
        marks=[pytest.mark.services] if backend == "postgres" or kind.startswith("tiered") else [],
    )
    for kind in sorted(STORE_KINDS)
    for backend in ("sqlite", "postgres")
    if (kind, backend) not in {("async", "postgres"), ("tiered", "sqlite"), ("tiered_blocking", "postgres")}
]


@pytest.fixture(scope="session")
def storage_database() -> Iterator[str]:
    """One PostgreSQL database for this run's contract tests (plain DSN), dropped at the end."""
    parsed = urlparse(services.POSTGRES_ADMIN_DSN)
    services.require(services.port_open(parsed.hostname or "127.0.0.1", parsed.port or 5432), "PostgreSQL")
    name = f"chatopt_storage_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(services.POSTGRES_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_schema_url(storage_database: str) -> Iterator[str]:
    """An empty PostgreSQL schema of this test's own, as an asyncpg URL.

    Creating and dropping a database costs a checkpoint (about a second on a busy
    machine); a schema costs milliseconds. The URL logs in as a role of the test's own
    whose ``search_path`` is that schema, so the store sees an empty database.
    """
    name = f"chatopt_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(storage_database, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN")
        admin.execute(f"CREATE SCHEMA {name} AUTHORIZATION {name}")
        admin.execute(f"ALTER ROLE {name} SET search_path = {name}")
    try:
        url = urlparse(storage_database)
        yield url._replace(
            scheme="postgresql+asyncpg", netloc=f"{name}@{url.hostname}:{url.port or 5432}"
        ).geturl()
    finally:
        with psycopg.connect(storage_database, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,)
            )
            admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            admin.execute(f"DROP ROLE IF EXISTS {name}")


@pytest.fixture(params=STORE_MATRIX)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(store kind, empty database URL) for each pair of the matrix."""
    kind, backend = request.param
    if backend == "sqlite":
        return kind, f"sqlite+aiosqlite:///{tmp_path / 'history.db'}"
    return kind, request.getfixturevalue("postgres_schema_url")


@pytest.fixture
async def store(request: pytest.FixtureRequest, store_target: tuple[str, str]) -> AsyncIterator[ChatStore]:
    """A started store of each kind on SQLite and PostgreSQL, closed afterwards."""
    kind, database_url = store_target
    chat_store = STORE_KINDS[kind](database_url, request)
    await chat_store.start()
    try:
        yield chat_store
    finally:
        await chat_store.close()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started PostgreSQL cluster of this test's own (crash it at will)."""
    cluster = PrivatePostgres()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
