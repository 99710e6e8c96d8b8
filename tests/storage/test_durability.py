"""An acknowledged message is never lost: kill things mid-run, then count rows.

"Acknowledged" means ``append_messages`` returned (the server replies only after that).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from reference_server.storage.base import ChatStore, Message
from reference_server.storage.blocking_store import BlockingSqlStore
from reference_server.storage.engines import create_async
from reference_server.storage.schema import messages
from reference_server.storage.sql_store import SqlChatStore
from tests.services import PrivateRedis
from tests.storage.conftest import SECRET
from tests.storage.private_postgres import PrivatePostgres

ROOT = Path(__file__).resolve().parents[2]

DURABLE_KINDS: dict[str, Callable[[str], ChatStore]] = {
    "batched": lambda url: SqlChatStore(url, secret=SECRET, batch_writes=True, batch_size=16, batch_ms=2),
    "async": lambda url: SqlChatStore(url, secret=SECRET, batch_writes=False),
    "blocking": lambda url: BlockingSqlStore(url, secret=SECRET),
}


async def _stored_ids(database_url: str, conversation_id: str) -> set[str]:
    engine = create_async(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                select(messages.c.id).where(messages.c.conversation_id == conversation_id).limit(1_000_000)
            )
            return set(result.scalars())
    finally:
        await engine.dispose()


async def _write_while(
    store: ChatStore,
    conversation_id: str,
    writers: int,
    acked: list[str],
    until: Callable[[], bool],
    max_appends: int = 400,
) -> list[BaseException]:
    """Concurrent writers appending until ``until()`` holds (bounded); returned appends count as acked."""

    async def writer() -> None:
        for _ in range(max_appends):
            if until():
                return
            message = Message(uuid.uuid4().hex, conversation_id, "user", "hi", datetime.now(UTC))
            await store.append_messages(conversation_id, [message])
            acked.append(message.id)
            await asyncio.sleep(0.005)

    results = await asyncio.gather(*(writer() for _ in range(writers)), return_exceptions=True)
    return [result for result in results if isinstance(result, BaseException)]


@pytest.mark.services
@pytest.mark.parametrize("kind", sorted(DURABLE_KINDS))
async def test_terminated_connections_lose_no_acknowledged_message(
    kind: str, postgres_url: str, postgres_dsn: str
) -> None:
    store = DURABLE_KINDS[kind](postgres_url)
    await store.start()
    stop = threading.Event()
    terminated: list[int] = []
    acked: list[str] = []

    def terminator() -> None:
        """Every 50 ms, cut every other connection to the test database (12 rounds)."""
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            for _ in range(12):
                if stop.wait(0.05):
                    return
                killed = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
                terminated.append(killed[0] if killed else 0)

    thread = threading.Thread(target=terminator, daemon=True)

    def enough() -> bool:
        return not thread.is_alive() and len(acked) >= 30

    try:
        conversation = await store.create_conversation("alice", "terminated")
        thread.start()
        failures = await _write_while(store, conversation.id, 3, acked, until=enough, max_appends=2000)
    finally:
        stop.set()
        thread.join(timeout=10)
        await store.close()
    assert sum(terminated) > 0, "the test never terminated a connection"
    assert failures == []
    assert len(acked) >= 30
    assert set(acked) <= await _stored_ids(postgres_url, conversation.id)


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["batched", "blocking"])
async def test_a_postgres_crash_and_restart_loses_no_acknowledged_message(
    kind: str, private_postgres: PrivatePostgres
) -> None:
    store = DURABLE_KINDS[kind](private_postgres.url)
    await store.start()
    acked: list[str] = []
    acked_when: dict[str, int] = {}

    async def crash_when_busy() -> None:
        for _ in range(1000):
            if len(acked) >= 20:
                break
            await asyncio.sleep(0.01)
        acked_when["crash"] = len(acked)
        # In a thread of its own: the baseline store blocks the event loop while PostgreSQL is down.
        await asyncio.to_thread(private_postgres.restart_after_crash)
        acked_when["restarted"] = len(acked)

    def enough() -> bool:
        return "restarted" in acked_when and len(acked) >= acked_when["restarted"] + 20

    try:
        conversation = await store.create_conversation("alice", "restarted")
        crash = asyncio.create_task(crash_when_busy())
        failures = await _write_while(store, conversation.id, 3, acked, until=enough, max_appends=2000)
        await crash
    finally:
        await store.close()
    assert failures == []
    assert acked_when["crash"] >= 20 and len(acked) >= acked_when["restarted"] + 20
    assert set(acked) <= await _stored_ids(private_postgres.url, conversation.id)


def _kill_after_acks(
    database_url: str, profile: str, wanted: int, redis_url: str | None = None
) -> tuple[str, list[str]]:
    """Run the ack writer, SIGKILL it once ``wanted`` acks were printed; (conversation id, acked ids)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.storage.ack_writer",
            database_url,
            profile,
            *([redis_url] if redis_url else []),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    conversation_id, acked = "", []
    deadline = time.monotonic() + 60
    try:
        assert process.stdout is not None
        while len(acked) < wanted and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            kind, value = line.split()
            if kind == "conversation":
                conversation_id = value
            else:
                acked.append(value)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        rest, errors = process.communicate(timeout=30)
    # Only whole lines are acks: the kill can cut the last print in the middle.
    acked += [
        line.split()[1] for line in rest.split("\n")[:-1] if line.startswith("ack ") and len(line) == 36
    ]
    assert len(acked) >= wanted, f"the writer stopped early: {errors[-2000:]}"
    return conversation_id, acked


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["baseline", "optimized"])
async def test_a_server_killed_after_acknowledging_keeps_every_acked_message(
    profile: str, database_url: str
) -> None:
    conversation_id, acked = await asyncio.to_thread(_kill_after_acks, database_url, profile, 150)
    stored = await _stored_ids(database_url, conversation_id)
    assert set(acked) <= stored


@pytest.mark.slow
@pytest.mark.services
async def test_a_tiered_server_killed_after_acknowledging_keeps_every_acked_message(
    database_url: str, private_redis: PrivateRedis
) -> None:
    conversation_id, acked = await asyncio.to_thread(
        _kill_after_acks, database_url, "optimized", 150, private_redis.url
    )
    assert set(acked) <= await _stored_ids(database_url, conversation_id)


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
async def test_archiving_racing_appends_loses_and_duplicates_nothing(
    database_url: str, batched: bool
) -> None:
    # cold_after_days < 0: every conversation counts as idle, so archive and restore keep colliding.
    store = SqlChatStore(database_url, secret=SECRET, cold_after_days=-1, batch_writes=batched, batch_ms=1)
    await store.start()
    acked: list[str] = []
    archived: list[int] = []
    try:
        conversation = await store.create_conversation("alice", "contended")

        writers_done = asyncio.Event()

        async def archive_until_writers_are_done() -> None:
            for _ in range(5000):
                archived.append(await store.archive_idle(datetime.now(UTC)))
                if writers_done.is_set():
                    return
                await asyncio.sleep(0.002)

        archiver = asyncio.create_task(archive_until_writers_are_done())
        failures = await _write_while(store, conversation.id, 3, acked, until=lambda: len(acked) >= 60)
        writers_done.set()
        await archiver
        stored = [message.id for message in await store.all_messages(conversation.id)]
        assert await store.count_messages(conversation.id) == len(acked)
    finally:
        await store.close()
    assert failures == []
    assert sum(archived) > 1, "the archive never raced the writers"
    assert sorted(stored) == sorted(acked)
