"""The two-layer cache end to end on the in-process backend with the real embedding model."""

from __future__ import annotations

import pytest

from reference_server.cache import CacheScope, ChatCache, CompletedAnswer
from reference_server.cache.embedding_batcher import EmbeddingBatcher
from reference_server.cache.exact import MemoryExactStore

TENANT_A = CacheScope("tenant:a", "v1", "small")
TENANT_B = CacheScope("tenant:b", "v1", "small")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def done(text: str) -> CompletedAnswer:
    return CompletedAnswer(text, "small", "stop", prompt_tokens=10, completion_tokens=5)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cache(embed, clock):
    chat_cache = ChatCache(
        MemoryExactStore(clock=clock), embedder=EmbeddingBatcher(embed), threshold=0.8, clock=clock,
        ttl_faq_s=100, ttl_dynamic_s=10,
    )
    yield chat_cache
    await chat_cache.close()


async def remember(cache: ChatCache, query: str, text: str, scope=TENANT_A, history=()):
    lookup = await cache.lookup(query, list(history), scope)
    assert lookup.status == "miss"
    assert await cache.store(lookup, done(text)) is None
    return lookup


async def test_exact_hit_after_normalization(cache):
    await remember(cache, "How do I reset my password?", "Use the reset link.")
    hit = await cache.lookup("  how do I RESET my password  ", [], TENANT_A)
    assert hit.status == "hit-exact"
    assert hit.answer.text == "Use the reset link."
    assert cache.stats.hits_exact == 1 and cache.stats.misses == 1


async def test_semantic_hit_on_a_paraphrase(cache):
    await remember(cache, "How can I cancel my subscription?", "Go to Billing > Cancel.")
    hit = await cache.lookup("I want to cancel my subscription", [], TENANT_A)
    assert hit.status == "hit-semantic"
    assert hit.answer.text == "Go to Billing > Cancel."
    assert hit.score >= 0.8
    assert cache.stats.hits_semantic == 1


async def test_unrelated_question_misses(cache):
    await remember(cache, "How can I cancel my subscription?", "Go to Billing > Cancel.")
    assert (await cache.lookup("What are your opening hours?", [], TENANT_A)).status == "miss"


@pytest.mark.parametrize(
    ("stored", "asked", "kind"),
    [
        ("Can I get a refund after 30 days?", "Can I get a refund after 45 days?", "number"),
        ("What is the menu on Monday?", "What is the menu on Tuesday?", "date"),
        ("What is the capital of France?", "What is the capital of Spain?", "entity"),
        ("Can I get a refund?", "Can I not get a refund?", "negation"),
        ("Posso cancelar o plano?", "Não posso cancelar o plano?", "negation"),
        ("How do I enable notifications?", "How do I disable notifications?", "opposite"),
    ],
)
async def test_traps_are_vetoed_even_when_the_cosine_is_high(cache, stored, asked, kind):
    cache.threshold = 0.3  # let the embedding match; the guard alone must refuse
    await remember(cache, stored, "cached answer")
    lookup = await cache.lookup(asked, [], TENANT_A)
    assert lookup.status == "miss"
    assert lookup.vetoed_by == kind
    assert cache.stats.trap_vetoes[kind] == 1


async def test_one_tenant_never_gets_another_tenants_answer(cache):
    await remember(cache, "What is our refund policy?", "Tenant A policy", scope=TENANT_A)
    assert (await cache.lookup("What is our refund policy?", [], TENANT_B)).status == "miss"
    assert (await cache.lookup("what's our refund policy", [], TENANT_B)).status == "miss"
    assert (await cache.lookup("What is our refund policy?", [], TENANT_A)).status == "hit-exact"


async def test_follow_up_only_hits_within_the_same_context(cache):
    france = [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris"},
    ]
    japan = [
        {"role": "user", "content": "What is the capital of Japan?"},
        {"role": "assistant", "content": "Tokyo"},
    ]
    await remember(cache, "and in Germany?", "Berlin", history=france)
    assert (await cache.lookup("and in Germany?", france, TENANT_A)).status == "hit-exact"
    assert (await cache.lookup("and in Germany?", japan, TENANT_A)).status == "miss"
    assert (await cache.lookup("and in Germany?", [], TENANT_A)).status == "miss"


async def test_entries_expire_by_ttl_class(cache, clock):
    await remember(cache, "How do I reset my password?", "faq answer")
    await remember(cache, "What is the weather today?", "dynamic answer")
    clock.now += 11
    assert (await cache.lookup("What is the weather today?", [], TENANT_A)).status == "miss"
    assert (await cache.lookup("How do I reset my password?", [], TENANT_A)).status == "hit-exact"
    clock.now += 100
    assert (await cache.lookup("How do I reset my password?", [], TENANT_A)).status == "miss"
    assert (await cache.lookup("how can i reset my password", [], TENANT_A)).status == "miss"


async def test_invalidate_by_key_removes_both_layers(cache):
    stored = await remember(cache, "How can I cancel my subscription?", "old answer")
    assert await cache.invalidate(stored.key) == 1
    assert (await cache.lookup("How can I cancel my subscription?", [], TENANT_A)).status == "miss"
    assert (await cache.lookup("I want to cancel my subscription", [], TENANT_A)).status == "miss"


async def test_invalidate_by_prefix_drops_one_tenant(cache):
    await remember(cache, "What is our refund policy?", "A", scope=TENANT_A)
    await remember(cache, "What is our refund policy?", "B", scope=TENANT_B)
    assert await cache.invalidate_prefix(TENANT_A.key_prefix) == 1
    assert (await cache.lookup("What is our refund policy?", [], TENANT_A)).status == "miss"
    assert (await cache.lookup("What is our refund policy?", [], TENANT_B)).status == "hit-exact"


async def test_invalidating_the_served_key_of_a_semantic_hit_drops_the_source_entry(cache):
    await remember(cache, "How can I cancel my subscription?", "wrong answer")
    hit = await cache.lookup("I want to cancel my subscription", [], TENANT_A, record=False)
    assert hit.status == "hit-semantic" and hit.served_key != hit.key
    assert cache.stats.hits_semantic == 0  # record=False leaves the counters alone
    assert await cache.invalidate(hit.served_key) == 1
    assert (await cache.lookup("How can I cancel my subscription?", [], TENANT_A)).status == "miss"


@pytest.mark.parametrize(
    "answer",
    [
        CompletedAnswer("partial", "small", "length"),
        CompletedAnswer("partial", "small", "stop", cancelled=True),
        CompletedAnswer("", "small", "stop", error=True),
        CompletedAnswer("I'm sorry, but I can't help with that.", "small", "stop"),
    ],
)
async def test_rejected_answers_are_never_served(cache, answer):
    lookup = await cache.lookup("Explain the refund policy", [], TENANT_A)
    assert await cache.store(lookup, answer) is not None
    assert (await cache.lookup("Explain the refund policy", [], TENANT_A)).status == "miss"
    assert sum(cache.stats.rejected.values()) == 1


async def test_exact_only_cache_works_without_an_embedder(clock):
    cache = ChatCache(MemoryExactStore(clock=clock), clock=clock)
    lookup = await cache.lookup("How do I reset my password?", [], TENANT_A)
    await cache.store(lookup, done("answer"))
    assert (await cache.lookup("how do i reset my password", [], TENANT_A)).status == "hit-exact"
    assert (await cache.lookup("How can I reset my password?", [], TENANT_A)).status == "miss"


async def test_a_paraphrase_asked_again_is_an_exact_hit_that_dies_with_its_answer(cache):
    stored = await remember(cache, "How can I cancel my subscription?", "Billing > Cancel")
    first = await cache.lookup("I want to cancel my subscription", [], TENANT_A)
    embedded = cache.embedder.texts
    again = await cache.lookup("i want to cancel my subscription", [], TENANT_A)
    assert (first.status, again.status) == ("hit-semantic", "hit-exact")
    assert again.served_key == stored.key and again.answer.text == "Billing > Cancel"
    assert cache.embedder.texts == embedded  # no embedding for the repeat
    await cache.invalidate(stored.key)
    assert (await cache.lookup("I want to cancel my subscription", [], TENANT_A)).status == "miss"
