"""Fixtures of the cache tests: the real offline embedding model, loaded once."""

from __future__ import annotations

import pytest

from reference_server.cache.embedding_batcher import EmbedFunction


@pytest.fixture(scope="session")
def embed() -> EmbedFunction:
    """The offline MiniLM embedder's batch function (real model, no network)."""
    from chatopt.embeddings import get_embedder

    return get_embedder().embed
