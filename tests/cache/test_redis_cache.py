"""The cache against the real Redis: shared between instances, surviving restarts, expiring."""

from __future__ import annotations

import asyncio

import pytest

from reference_server.cache import CacheScope, ChatCache, CompletedAnswer
from reference_server.cache.embedding_batcher import EmbeddingBatcher
from reference_server.cache.exact import RedisExactStore
from reference_server.cache.vector_store import RedisVectorStore

pytestmark = pytest.mark.services

TENANT_A = CacheScope("tenant:a", "v1", "small")
TENANT_B = CacheScope("tenant:b", "v1", "small")


def done(text: str) -> CompletedAnswer:
    return CompletedAnswer(text=text, model="small", finish_reason="stop")


@pytest.fixture
async def caches(redis_client, redis_prefix, embed):
    """Build cache instances (as separate servers would) on one Redis key space."""
    made: list[ChatCache] = []

    async def factory(**options) -> ChatCache:
        cache = ChatCache(
            RedisExactStore(redis_client, redis_prefix),
            embedder=EmbeddingBatcher(embed),
            vector_store=RedisVectorStore(redis_client, redis_prefix),
            threshold=0.8,
            sync_interval_s=0.0,
            **options,
        )
        await cache.start()
        made.append(cache)
        return cache

    yield factory
    for cache in made:
        await cache.embedder.close()


async def remember(cache: ChatCache, query: str, text: str, scope=TENANT_A):
    lookup = await cache.lookup(query, [], scope)
    assert lookup.status == "miss"
    assert await cache.store(lookup, done(text)) is None
    return lookup


async def test_exact_and_semantic_hits_from_redis(caches):
    cache = await caches()
    await remember(cache, "How can I cancel my subscription?", "Billing > Cancel")
    assert (await cache.lookup("how can i cancel my subscription", [], TENANT_A)).status == "hit-exact"
    semantic = await cache.lookup("I want to cancel my subscription", [], TENANT_A)
    assert semantic.status == "hit-semantic" and semantic.answer.text == "Billing > Cancel"


async def test_another_instance_sees_new_entries(caches):
    writer, reader = await caches(), await caches()
    await remember(writer, "How can I cancel my subscription?", "Billing > Cancel")
    hit = await reader.lookup("I want to cancel my subscription", [], TENANT_A)
    assert hit.status == "hit-semantic"
    assert (await reader.lookup("What is our refund policy?", [], TENANT_A)).status == "miss"


async def test_a_restarted_instance_loads_the_vectors(caches):
    first = await caches()
    await remember(first, "How can I cancel my subscription?", "Billing > Cancel")
    restarted = await caches()
    assert len(restarted.index) == 1
    assert (await restarted.lookup("I want to cancel my subscription", [], TENANT_A)).status == "hit-semantic"


async def test_tenant_isolation_in_redis(caches):
    cache = await caches()
    await remember(cache, "What is our refund policy?", "A only", scope=TENANT_A)
    assert (await cache.lookup("What is our refund policy?", [], TENANT_B)).status == "miss"
    assert (await cache.lookup("what's our refund policy?", [], TENANT_B)).status == "miss"


async def test_ttl_expiry_in_redis(caches, redis_client, redis_prefix):
    cache = await caches(ttl_faq_s=1, ttl_dynamic_s=1)
    await remember(cache, "How can I cancel my subscription?", "Billing > Cancel")
    stored = await cache.lookup("How can I cancel my subscription?", [], TENANT_A)
    assert 0 < await redis_client.pttl(f"{redis_prefix}x:{stored.key}") <= 1000
    await asyncio.sleep(1.2)
    assert (await cache.lookup("How can I cancel my subscription?", [], TENANT_A)).status == "miss"
    assert (await cache.lookup("I want to cancel my subscription", [], TENANT_A)).status == "miss"
    restarted = await caches()
    assert len(restarted.index) == 0


async def test_invalidation_reaches_other_instances(caches):
    writer, reader = await caches(), await caches()
    stored = await remember(writer, "How can I cancel my subscription?", "stale")
    assert (await reader.lookup("I want to cancel my subscription", [], TENANT_A)).status == "hit-semantic"
    await writer.invalidate(stored.key)
    assert (await reader.lookup("I want to cancel my subscription", [], TENANT_A)).status == "miss"
    assert len(reader.index) == 0


async def test_prefix_and_key_invalidation_in_redis(caches):
    cache = await caches()
    await remember(cache, "What is our refund policy?", "A", scope=TENANT_A)
    await remember(cache, "What is our refund policy?", "B", scope=TENANT_B)
    assert await cache.invalidate_prefix(TENANT_A.key_prefix) == 1
    hit = await cache.lookup("What is our refund policy?", [], TENANT_B)
    assert hit.status == "hit-exact"
    assert await cache.invalidate(hit.served_key) == 1
    assert (await cache.lookup("What is our refund policy?", [], TENANT_B)).status == "miss"


async def test_trimmed_change_log_forces_a_full_reload(caches, redis_client, redis_prefix):
    reader = await caches()
    writer = await caches()
    writer.vector_store.log_max = 1
    for i, topic in enumerate(["billing", "shipping", "returns", "privacy", "security"]):
        await remember(writer, f"Where can I read about {topic} policy number {i}?", topic)
    await redis_client.xtrim(f"{redis_prefix}v:log", maxlen=1, approximate=False)
    await reader.sync()
    assert len(reader.index) == 5


async def test_paraphrase_aliases_are_shared_and_follow_invalidation(caches):
    writer, reader = await caches(), await caches()
    stored = await remember(writer, "How can I cancel my subscription?", "Billing > Cancel")
    assert (await reader.lookup("I want to cancel my subscription", [], TENANT_A)).status == "hit-semantic"
    repeat = await writer.lookup("I want to cancel my subscription", [], TENANT_A)
    assert repeat.status == "hit-exact" and repeat.served_key == stored.key
    assert await writer.invalidate_prefix(TENANT_A.key_prefix) == 1
    assert (await reader.lookup("I want to cancel my subscription", [], TENANT_A)).status == "miss"
