"""P2 two-layer answer cache: exact (normalized key) then semantic (embeddings + trap guard)."""

from reference_server.cache.admission import CompletedAnswer
from reference_server.cache.chat_cache import CacheLookup, CacheStatus, ChatCache
from reference_server.cache.entry import CachedAnswer
from reference_server.cache.factory import build_cache, scope_for
from reference_server.cache.keys import CacheScope

__all__ = [
    "CacheLookup",
    "CacheScope",
    "CacheStatus",
    "CachedAnswer",
    "ChatCache",
    "CompletedAnswer",
    "build_cache",
    "scope_for",
]
