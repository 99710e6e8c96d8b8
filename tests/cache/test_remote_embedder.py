"""The OpenAI-compatible embeddings option, against the mock LLM's real ``/v1/embeddings``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from chatopt.mockllm import MockConfig, MockLLMServer
from reference_server.cache import CacheScope, ChatCache, CompletedAnswer
from reference_server.cache.embedding_batcher import EmbeddingBatcher
from reference_server.cache.exact import MemoryExactStore
from reference_server.cache.factory import default_embed_function
from reference_server.cache.remote_embedder import RemoteEmbedder
from reference_server.settings import settings_for_profile


@pytest.fixture(scope="module")
def mock() -> Iterator[MockLLMServer]:
    with MockLLMServer(MockConfig.fast()) as server:
        yield server


def test_remote_vectors_are_unit_norm_and_in_order(mock):
    embedder = RemoteEmbedder(mock.base_url, "text-embedding-3-small", "unused")
    try:
        texts = ["How do I reset my password?", "how can i reset my password", "Pizza recipe"]
        vectors = embedder.embed(texts)
    finally:
        embedder.close()
    assert vectors.dtype == np.float32 and vectors.shape[0] == 3
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


async def test_the_cache_runs_on_remote_embeddings_chosen_by_settings(mock):
    settings = settings_for_profile("optimized", cache_embeddings_url=mock.base_url)
    batcher = EmbeddingBatcher(default_embed_function(settings))
    cache = ChatCache(MemoryExactStore(), embedder=batcher, threshold=0.8)
    scope = CacheScope("tenant:a")
    try:
        stored = await cache.lookup("How can I cancel my subscription?", [], scope)
        await cache.store(stored, CompletedAnswer("Billing > Cancel", "small", "stop"))
        assert (await cache.lookup("I want to cancel my subscription", [], scope)).status == "hit-semantic"
    finally:
        await cache.close()


def test_an_unreachable_endpoint_raises(mock):
    embedder = RemoteEmbedder(f"{mock.url}/nowhere", "m", "k")
    try:
        with pytest.raises(httpx.HTTPStatusError):
            embedder.embed(["hello"])
    finally:
        embedder.close()
