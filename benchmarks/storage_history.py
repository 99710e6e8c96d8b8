"""History storage: loading 50 messages hot vs warm vs cold, and batched vs unbatched inserts.

Run: ``.venv/bin/python benchmarks/storage_history.py`` (needs the machine's PostgreSQL
and Redis; creates and drops a database of its own and cleans its Redis keys).

Part 1 loads the newest page of 50 messages of conversations holding ``--messages``
messages each, from every tier, interleaved request by request so machine noise hits
all tiers alike (latency), then with ``--clients`` concurrent loaders per tier (loads/s,
where the baseline's blocking driver serializes everything on the event loop):

- hot: the Redis hot tier (TieredChatStore);
- warm: PostgreSQL through the async store (keyset page, compound index, LIMIT 51);
- cold: conversations moved to the compressed archive by ``archive_idle``;
- baseline: the blocking store, which reads the whole history and slices it.

Part 2 appends user+assistant pairs from ``--concurrency`` concurrent requests, each
waiting for durability, with the group-commit buffer on and off (and the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy import update

from reference_server.storage.base import ChatStore, Message, Page
from reference_server.storage.blocking_store import BlockingSqlStore
from reference_server.storage.hot_tier import RedisHotTier
from reference_server.storage.schema import conversations
from reference_server.storage.sql_store import SqlChatStore
from reference_server.storage.tiered_store import TieredChatStore

ADMIN_DSN = os.environ.get("CHATOPT_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHATOPT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "benchmark"
PAGE = 50


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def message(conversation_id: str, index: int, at: datetime) -> Message:
    role = "user" if index % 2 == 0 else "assistant"
    text = f"{role} turn {index}: " + "lorem ipsum dolor sit amet " * 12
    return Message(uuid.uuid4().hex, conversation_id, role, text, at + timedelta(seconds=index))


async def seed(store: ChatStore, count: int, per_conversation: int) -> list[str]:
    ids = []
    start = datetime.now(UTC) - timedelta(hours=1)
    for _ in range(count):
        conversation = await store.create_conversation("bench-user", "benchmark")
        batch = [message(conversation.id, index, start) for index in range(per_conversation)]
        for offset in range(0, per_conversation, 100):
            await store.append_messages(conversation.id, batch[offset : offset + 100])
        ids.append(conversation.id)
    return ids


async def concurrent_rate(
    load: Callable[[str], Awaitable[Page[Message]]], ids: list[str], clients: int, total: int
) -> float:
    """History loads per second with ``clients`` concurrent loaders (``total`` loads in all)."""

    async def client(offset: int) -> None:
        for index in range(offset, total, clients):
            await load(ids[index % len(ids)])

    started = time.perf_counter()
    await asyncio.gather(*(client(offset) for offset in range(clients)))
    return total / (time.perf_counter() - started)


async def history_loads(database_url: str, args: argparse.Namespace, redis_prefix: str) -> None:
    warm = SqlChatStore(database_url, secret=SECRET, batch_writes=False)
    baseline = BlockingSqlStore(database_url, secret=SECRET)
    client = aioredis.Redis.from_url(REDIS_URL)
    hot = TieredChatStore(
        SqlChatStore(database_url, secret=SECRET, batch_writes=False),
        RedisHotTier(client, capacity=PAGE, prefix=redis_prefix),
        owns_redis=True,
    )
    for store in (warm, baseline, hot):
        await store.start()
    try:
        active = await seed(warm, args.conversations, args.messages)
        idle = await seed(warm, args.conversations, args.messages)
        async with warm.engine.begin() as connection:
            await connection.execute(
                update(conversations)
                .where(conversations.c.id.in_(idle))
                .values(updated_at=datetime.now(UTC) - timedelta(days=30))
            )
        archived = await warm.archive_idle(datetime.now(UTC))
        assert archived == len(idle), f"archived {archived} of {len(idle)}"
        for conversation_id in active:  # fill the hot tier once, like an active session
            await hot.get_conversation(conversation_id, "bench-user")
            await hot.list_messages(conversation_id, None, PAGE)

        def history_load(store: ChatStore) -> Callable[[str], Awaitable[Page[Message]]]:
            """What GET /api/conversations/{id}/messages does: ownership check, then the newest page."""

            async def load(conversation_id: str) -> Page[Message]:
                assert await store.get_conversation(conversation_id, "bench-user") is not None
                return await store.list_messages(conversation_id, None, PAGE)

            return load

        tiers: dict[str, tuple[Callable[[str], Awaitable[Page[Message]]], list[str]]] = {
            "hot (Redis)": (history_load(hot), active),
            "warm (PostgreSQL)": (history_load(warm), active),
            "cold (archive)": (history_load(warm), idle),
            "baseline (blocking, full read)": (history_load(baseline), active),
        }
        samples: dict[str, list[float]] = {name: [] for name in tiers}
        hits_before = hot.hot_hits
        for round_index in range(args.rounds):
            for name, (load, ids) in tiers.items():
                conversation_id = ids[round_index % len(ids)]
                started = time.perf_counter()
                page = await load(conversation_id)
                samples[name].append((time.perf_counter() - started) * 1000)
                assert len(page.items) == PAGE
        assert hot.hot_hits - hits_before == 2 * args.rounds, "the hot tier missed"

        rates: dict[str, float] = {}
        for name, (load, ids) in tiers.items():
            rates[name] = await concurrent_rate(load, ids, args.clients, args.rounds)

        warm_p50 = statistics.median(samples["warm (PostgreSQL)"])
        print(
            f"\nHistory load (ownership check + newest page of {PAGE}), {args.messages} messages each, "
            f"{args.rounds} loads per tier, interleaved"
        )
        print(
            f"{'tier':32} {'P50 ms':>8} {'P95 ms':>8} {'P99 ms':>8} {'P50 vs warm':>12} "
            f"{f'loads/s x{args.clients}':>14}"
        )
        for name, values in samples.items():
            p50 = statistics.median(values)
            print(
                f"{name:32} {p50:8.2f} {percentile(values, 0.95):8.2f} {percentile(values, 0.99):8.2f} "
                f"{p50 / warm_p50:11.2f}x {rates[name]:14.0f}"
            )
    finally:
        await hot.hot.forget(active + idle)
        for store in (warm, baseline, hot):
            await store.close()


async def insert_throughput(
    name: str, store: ChatStore, args: argparse.Namespace
) -> tuple[str, float, list[float]]:
    await store.start()
    try:
        ids = [(await store.create_conversation("bench-user", "inserts")).id for _ in range(args.concurrency)]
        latencies: list[float] = []
        per_worker = args.appends // args.concurrency
        start_at = datetime.now(UTC)

        async def worker(conversation_id: str) -> None:
            for index in range(per_worker):
                pair = [
                    message(conversation_id, 2 * index, start_at),
                    message(conversation_id, 2 * index + 1, start_at),
                ]
                started = time.perf_counter()
                await store.append_messages(conversation_id, pair)
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker(conversation_id) for conversation_id in ids))
        elapsed = time.perf_counter() - started
        return name, len(latencies) / elapsed, latencies
    finally:
        await store.close()


async def inserts(database_url: str, label: str, args: argparse.Namespace) -> None:
    kinds: dict[str, Callable[[], ChatStore]] = {
        "batched (group commit)": lambda: SqlChatStore(
            database_url, secret=SECRET, batch_writes=True, batch_size=args.batch_size, batch_ms=args.batch_ms
        ),
        "unbatched (async)": lambda: SqlChatStore(database_url, secret=SECRET, batch_writes=False),
        "baseline (blocking)": lambda: BlockingSqlStore(database_url, secret=SECRET),
    }
    results = [await insert_throughput(name, build(), args) for name, build in kinds.items()]
    unbatched = results[1][1]
    print(
        f"\nInserts on {label}: {args.appends} durable appends (user+assistant pair each) "
        f"from {args.concurrency} concurrent requests"
    )
    print(f"{'mode':24} {'appends/s':>10} {'msgs/s':>8} {'P50 ms':>8} {'P95 ms':>8} {'vs unbatched':>13}")
    for name, rate, latencies in results:
        print(
            f"{name:24} {rate:10.0f} {2 * rate:8.0f} {statistics.median(latencies):8.2f} "
            f"{percentile(latencies, 0.95):8.2f} {rate / unbatched:12.2f}x"
        )


async def main(args: argparse.Namespace) -> None:
    name = f"chatopt_bench_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"')
    database_url = (
        urlparse(ADMIN_DSN)
        ._replace(path=f"/{name}")
        .geturl()
        .replace("postgresql://", "postgresql+asyncpg://")
    )
    try:
        await history_loads(database_url, args, f"chatopt-bench:{name}:")
        await inserts(database_url, "PostgreSQL", args)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if args.sqlite:
        with tempfile.TemporaryDirectory(prefix="chatopt-bench-") as directory:
            await inserts(f"sqlite+aiosqlite:///{directory}/history.db", "SQLite", args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=400, help="history loads per tier")
    parser.add_argument("--conversations", type=int, default=20, help="conversations per tier")
    parser.add_argument("--messages", type=int, default=400, help="messages per conversation")
    parser.add_argument("--clients", type=int, default=16, help="concurrent loaders for the loads/s column")
    parser.add_argument("--appends", type=int, default=3000, help="appends per insert mode")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent appending requests")
    parser.add_argument("--batch-size", type=int, default=64, help="group-commit batch size (messages)")
    parser.add_argument("--batch-ms", type=float, default=5.0, help="group-commit wait (ms)")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false", help="skip the SQLite insert run")
    asyncio.run(main(parser.parse_args()))
