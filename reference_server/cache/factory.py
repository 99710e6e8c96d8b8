"""Build the chat cache the settings ask for, and the scope of a request."""

from __future__ import annotations

import hashlib

from reference_server.cache.chat_cache import ChatCache
from reference_server.cache.embedding_batcher import EmbeddingBatcher, EmbedFunction
from reference_server.cache.exact import ExactStore, MemoryExactStore, RedisExactStore
from reference_server.cache.keys import CacheScope
from reference_server.cache.vector_store import RedisVectorStore
from reference_server.settings import ServerSettings

REDIS_KEY_PREFIX = "chatopt:cache:"


def build_cache(
    settings: ServerSettings,
    redis_client=None,
    *,
    embed: EmbedFunction | None = None,
    key_prefix: str = REDIS_KEY_PREFIX,
) -> ChatCache:
    """Redis-backed when a client is given (shared, persistent), else an in-process LRU.

    ``embed`` defaults to the offline MiniLM model, or the OpenAI-compatible endpoint at
    ``settings.cache_embeddings_url``; the semantic layer is off when ``settings.cache_semantic``
    is false.
    """
    exact: ExactStore
    if redis_client is not None:
        exact = RedisExactStore(redis_client, key_prefix)
    else:
        exact = MemoryExactStore(max_entries=settings.cache_max_entries)
    embedder = None
    vector_store = None
    if settings.cache_semantic:
        if embed is None:
            embed = default_embed_function(settings)
        embedder = EmbeddingBatcher(embed)
        if redis_client is not None:
            vector_store = RedisVectorStore(redis_client, key_prefix)
    return ChatCache(
        exact,
        embedder=embedder,
        vector_store=vector_store,
        threshold=settings.cache_threshold,
        ttl_faq_s=settings.cache_ttl_faq_s,
        ttl_dynamic_s=settings.cache_ttl_dynamic_s,
        max_entries=settings.cache_max_entries,
    )


def default_embed_function(settings: ServerSettings) -> EmbedFunction:
    """The embedding function the settings ask for (loads the offline model on first call)."""
    if settings.cache_embeddings_url:
        from reference_server.cache.remote_embedder import RemoteEmbedder

        url, model = settings.cache_embeddings_url, settings.cache_embeddings_model
        return RemoteEmbedder(url, model, settings.llm_api_key).embed
    from chatopt.embeddings import get_embedder

    return get_embedder().embed


def scope_for(
    settings: ServerSettings, *, user_id: str, tenant_id: str | None, model_tier: str
) -> CacheScope:
    """The sharing scope of a request under ``settings.cache_scope`` (global, tenant or user)."""
    if settings.cache_scope == "user":
        namespace = f"user:{user_id}"
    elif settings.cache_scope == "tenant":
        namespace = f"tenant:{tenant_id or 'default'}"
    else:
        namespace = "global"
    prompt_version = hashlib.sha256(settings.system_prompt.encode()).hexdigest()[:8]
    return CacheScope(namespace=namespace, system_prompt_version=prompt_version, model_tier=model_tier)
