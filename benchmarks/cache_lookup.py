"""How fast the cache answers: vector search at 1k/10k/100k entries, and whole lookups per layer.

Run: .venv/bin/python benchmarks/cache_lookup.py [--redis redis://127.0.0.1:6379/0]

1. Vector search alone (``VectorIndex.search``, one partition holding every entry: the
   worst case, since real scopes split the entries) at 1,000 / 10,000 / 100,000 random
   unit vectors; recall checks that a query near one entry ranks it first.
2. ``ChatCache.lookup`` end to end, in-process LRU and (with ``--redis``) Redis: an exact
   hit, a semantic hit (embedding the query included) and a miss, P50/P99 each.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import Counter

import numpy as np

from chatopt.embeddings import get_embedder
from reference_server.cache import CacheScope, ChatCache, CompletedAnswer
from reference_server.cache.embedding_batcher import EmbeddingBatcher
from reference_server.cache.exact import MemoryExactStore, RedisExactStore
from reference_server.cache.vector_store import RedisVectorStore
from reference_server.cache.vectors import VectorEntry, VectorIndex

SIZES = (1_000, 10_000, 100_000)
SEARCHES = 300
LOOKUPS = 200


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def bench_vector_search() -> None:
    rng = np.random.default_rng(7)
    print("vector search, one partition (ms); recall: a query at cosine ~0.81 to an entry ranks it first")
    print(f"{'entries':>9} {'P50':>8} {'P99':>8} {'recall':>7}")
    for size in SIZES:
        index = VectorIndex(max_entries=size)
        vectors = rng.standard_normal((size, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for row in range(size):
            index.add(VectorEntry(str(row), "p", vectors[row], "q", "k", 1e12))
        timings = []
        found = 0
        for _ in range(SEARCHES):
            target = int(rng.integers(size))
            query = vectors[target] + rng.standard_normal(384).astype(np.float32) * 0.037
            query /= np.linalg.norm(query)
            started = time.perf_counter()
            matches = index.search("p", query, k=5, min_score=-1.0, now=0.0)
            timings.append((time.perf_counter() - started) * 1000)
            found += bool(matches) and matches[0].entry.id == str(target)
        print(f"{size:>9} {percentile(timings, 50):>8.3f} {percentile(timings, 99):>8.3f} "
              f"{100 * found / SEARCHES:>6.1f}%")


async def bench_lookups(backend: str, redis_url: str | None) -> None:
    embed = get_embedder().embed
    client = None
    if redis_url:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(redis_url)
        prefix = f"chatopt-bench:{uuid.uuid4().hex[:8]}:"
        cache = ChatCache(
            RedisExactStore(client, prefix), embedder=EmbeddingBatcher(embed),
            vector_store=RedisVectorStore(client, prefix), threshold=0.80,
        )
    else:
        cache = ChatCache(MemoryExactStore(), embedder=EmbeddingBatcher(embed), threshold=0.80)
    scope = CacheScope("tenant:bench")
    stored = await cache.lookup("How can I cancel my subscription?", [], scope)
    await cache.store(stored, CompletedAnswer("Go to Billing, then Cancel.", "small", "stop"))
    # Every semantic probe is a wording never seen before (a repeat would be an alias: exact hit).
    openers = ["", "hi", "hello", "hey", "so", "ok", "please", "well", "um", "excuse me"]
    closers = ["", "please", "thanks", "thank you", "quickly", "right away", "for me", "pls", "thx",
               "if possible", "if you can", "kindly", "friend", "folks", "team", "real quick", "ty",
               "asap", "now", "again"]
    paraphrases = [f"{o} I want to cancel my subscription {c}".strip() for o in openers for c in closers]
    cases = {
        "exact hit": ["how can I cancel my subscription"] * LOOKUPS,
        "semantic hit": paraphrases[:LOOKUPS],
        "miss": [f"What are the opening hours of office number {i}?" for i in range(LOOKUPS)],
    }
    print(f"ChatCache.lookup, {backend} (ms):")
    print(f"{'case':>14} {'P50':>8} {'P99':>8}  statuses")
    try:
        for name, queries in cases.items():
            timings = []
            statuses: Counter[str] = Counter()
            for query in queries:
                started = time.perf_counter()
                result = await cache.lookup(query, [], scope)
                timings.append((time.perf_counter() - started) * 1000)
                statuses[result.status] += 1
            p50, p99 = percentile(timings, 50), percentile(timings, 99)
            print(f"{name:>14} {p50:>8.2f} {p99:>8.2f}  {dict(statuses)}")
        await burst(cache, scope)
    finally:
        if client is not None:
            keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
        await cache.close()
        if client is not None:
            await client.aclose()


async def burst(cache: ChatCache, scope: CacheScope) -> None:
    """64 different questions at once: the embedding batcher shares model calls between them."""
    assert cache.embedder is not None
    questions = [f"How do I change setting number {i} in my account?" for i in range(64)]
    batches, texts = cache.embedder.batches, cache.embedder.texts
    started = time.perf_counter()
    await asyncio.gather(*(cache.lookup(q, [], scope) for q in questions))
    elapsed = (time.perf_counter() - started) * 1000
    calls, embedded = cache.embedder.batches - batches, cache.embedder.texts - texts
    print(f"  burst of 64 concurrent misses: {embedded} queries embedded in {calls} model calls, "
          f"{elapsed:.0f} ms in all ({elapsed / 64:.1f} ms per query)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", help="also measure the Redis backend at this URL")
    args = parser.parse_args()
    bench_vector_search()
    started = time.perf_counter()
    get_embedder().embed(["warm up the model"])
    print(f"(embedding model loaded in {1000 * (time.perf_counter() - started):.0f} ms)")
    single = []
    for _ in range(50):
        one = time.perf_counter()
        get_embedder().embed(["I want to cancel my subscription"])
        single.append((time.perf_counter() - one) * 1000)
    print(f"embedding one query: P50 {statistics.median(single):.2f} ms")
    asyncio.run(bench_lookups("in-process LRU", None))
    if args.redis:
        asyncio.run(bench_lookups("Redis", args.redis))


if __name__ == "__main__":
    main()
