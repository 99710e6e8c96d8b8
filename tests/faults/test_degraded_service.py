"""Faults mid-run: the mock LLM fails 20% of calls, Redis is killed, PostgreSQL connections are killed.

The server must keep serving (degraded where it must: limits fall back to in-process
windows, the cache and hot tier go without Redis) and every acknowledged message (a 200
with a message id) must be in PostgreSQL at the end.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from chatopt.mockllm import MockConfig
from reference_server.app import create_app
from reference_server.auth import issue_token
from reference_server.settings import settings_for_profile
from tests.reference_server.upstream import ServerThread

pytestmark = [pytest.mark.services, pytest.mark.slow]

SECRET = "faults-test-secret"
REQUESTS_PER_PHASE = 30
CONCURRENCY = 4


async def _terminate_connections(dsn: str) -> int:
    admin = await asyncpg.connect(dsn)
    try:
        return len(
            await admin.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await admin.close()


async def test_server_keeps_serving_and_loses_no_acknowledged_message(
    start_mock_llm, private_redis, postgres_dsn, postgres_url
):
    mock = start_mock_llm(MockConfig.fast(seed=11, faults={"error_rate": 0.2}))
    settings = settings_for_profile(
        "optimized",
        llm_base_url=mock.base_url,
        secret=SECRET,
        database_url=postgres_url,
        redis_url=private_redis.url,
        cache_semantic=False,  # exact layer in Redis; the embedding model is not what is under test
    )
    server = ServerThread(create_app(settings))
    server.start()
    token = issue_token(SECRET, f"user-{uuid.uuid4().hex[:8]}", "premium")
    headers = {"Authorization": f"Bearer {token}"}
    outcomes: dict[str, list[httpx.Response]] = {}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

            async def phase(name: str) -> None:
                gate = asyncio.Semaphore(CONCURRENCY)

                async def one(i: int) -> httpx.Response:
                    async with gate:
                        return await client.post(
                            "/api/chat", json={"message": f"{name} question {i}"}, headers=headers
                        )

                outcomes[name] = list(await asyncio.gather(*(one(i) for i in range(REQUESTS_PER_PHASE))))

            await phase("healthy")
            private_redis.stop()
            await phase("redis-down")
            assert await _terminate_connections(postgres_dsn) >= 1
            await phase("db-connections-killed")
            await phase("after")
            metrics = (await client.get("/metrics")).text
    finally:
        server.stop()

    acked: set[str] = set()
    for name, responses in outcomes.items():
        statuses = [r.status_code for r in responses]
        assert 500 not in statuses, (name, [r.text for r in responses if r.status_code == 500][:2])
        assert statuses.count(200) > len(statuses) // 2, (name, statuses)
        for response in responses:
            if response.status_code == 200:
                acked.add(response.json()["message_id"])
            else:
                assert response.json()["error"]["message"] and "Traceback" not in response.text
    assert 'chatopt_redis_failures_total{component="rate_limits"}' in metrics

    connection = await asyncpg.connect(postgres_dsn)
    try:
        stored = {
            row["id"] for row in await connection.fetch("SELECT id FROM messages WHERE role = 'assistant'")
        }
    finally:
        await connection.close()
    assert acked and acked <= stored, f"{len(acked - stored)} acknowledged answers are missing"
