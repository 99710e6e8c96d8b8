"""The two-layer chat cache (SPEC P2): exact key first, then semantic search with a trap guard.

Lookup: normalize -> exact GET -> on a miss embed the query (off the event loop) ->
search the query's own partition (scope + context) -> the best candidates above the
cosine threshold that pass the trap guard -> answer. Store: only complete validated
answers, with a TTL class chosen from the question, written to the exact layer and,
with its vector, to the semantic layer (and through to Redis when configured).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from reference_server.cache.admission import CompletedAnswer, rejection_reason, ttl_class
from reference_server.cache.embedding_batcher import EmbeddingBatcher
from reference_server.cache.entry import CachedAnswer
from reference_server.cache.exact import ExactStore
from reference_server.cache.keys import CacheScope, context_fingerprint, exact_key, partition_key
from reference_server.cache.normalize import normalize_query
from reference_server.cache.stats import CacheStats
from reference_server.cache.traps import TrapKind, check_trap
from reference_server.cache.vector_store import LogPosition, RedisVectorStore
from reference_server.cache.vectors import VectorEntry, VectorIndex

CacheStatus = Literal["hit-exact", "hit-semantic", "miss"]
#: How stale another instance's view of new semantic entries may be (it re-reads the change log).
SYNC_INTERVAL_S = 0.25


@dataclass
class CacheLookup:
    """The outcome of one lookup, and what ``store`` needs to file the live answer after a miss."""

    status: CacheStatus
    answer: CachedAnswer | None
    query: str
    key: str
    partition: str
    fingerprint: str
    served_key: str | None = None
    vector: np.ndarray | None = None
    score: float | None = None
    vetoed_by: TrapKind | None = None

    @property
    def hit(self) -> bool:
        return self.answer is not None


class ChatCache:
    """Exact + semantic answer cache with scope isolation, trap guard, TTL classes and invalidation."""

    def __init__(
        self,
        exact: ExactStore,
        *,
        embedder: EmbeddingBatcher | None = None,
        vector_store: RedisVectorStore | None = None,
        threshold: float = 0.90,
        ttl_faq_s: int = 7 * 24 * 3600,
        ttl_dynamic_s: int = 24 * 3600,
        max_entries: int = 100_000,
        candidates: int = 5,
        sync_interval_s: float = SYNC_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.exact = exact
        self.embedder = embedder
        self.vector_store = vector_store
        self.threshold = threshold
        self.ttl_s = {"faq": ttl_faq_s, "dynamic": ttl_dynamic_s}
        self.candidates = candidates
        self.sync_interval_s = sync_interval_s
        self.index = VectorIndex(max_entries=max_entries)
        self.stats = CacheStats()
        self._clock = clock
        self._position = LogPosition()
        self._synced_at = float("-inf")

    @property
    def semantic(self) -> bool:
        return self.embedder is not None

    async def start(self) -> None:
        """Load the persisted vectors (every instance and restart sees the same cache)."""
        if self.vector_store is not None and self.semantic:
            await self._reload()

    async def close(self) -> None:
        if self.embedder is not None:
            await self.embedder.close()
        await self.exact.close()

    async def lookup(
        self, query: str, history: Sequence[Mapping[str, str]], scope: CacheScope, *, record: bool = True
    ) -> CacheLookup:
        """Find a reusable answer for ``query`` asked after ``history`` in ``scope``.

        ``record=False`` leaves the hit/miss counters alone (lookups that serve nobody).
        """
        fingerprint = context_fingerprint(query, history)
        key = exact_key(scope, fingerprint, normalize_query(query))
        result = CacheLookup("miss", None, query, key, partition_key(scope, fingerprint), fingerprint)
        found = await self.exact.resolve(key)
        if found is not None:
            result.served_key, result.answer = found
            result.status = "hit-exact"
        elif self.embedder is not None:
            await self._semantic_lookup(result)
        if record:
            self._count(result.status)
        return result

    def _count(self, status: CacheStatus) -> None:
        if status == "hit-exact":
            self.stats.hits_exact += 1
        elif status == "hit-semantic":
            self.stats.hits_semantic += 1
        else:
            self.stats.misses += 1

    async def _semantic_lookup(self, result: CacheLookup) -> None:
        assert self.embedder is not None
        await self._sync_if_due()
        result.vector = await self.embedder.embed(normalize_query(result.query))
        now = self._clock()
        matches = self.index.search(
            result.partition, result.vector, k=self.candidates, min_score=self.threshold, now=now
        )
        if matches:
            result.score = matches[0].score
        for match in matches:
            verdict = check_trap(result.query, match.entry.query)
            if not verdict.ok:
                self.stats.trap_vetoes[verdict.kind or "other"] += 1
                result.vetoed_by = result.vetoed_by or verdict.kind
                continue
            answer = await self.exact.get(match.entry.key)
            if answer is None:  # the answer expired or was invalidated: drop the stale vector
                await self._forget([match.entry.id])
                continue
            result.status, result.answer, result.served_key = "hit-semantic", answer, match.entry.key
            result.score = match.score
            # The same wording next time is an exact hit, no embedding (the alias dies with the answer).
            await self.exact.set_alias(result.key, match.entry.key, self.ttl_s[answer.ttl_class])
            return

    async def store(self, lookup: CacheLookup, answer: CompletedAnswer) -> str | None:
        """File a live answer after a miss; returns why it was not stored, or None when it was."""
        reason = rejection_reason(lookup.query, answer)
        if reason is not None:
            self.stats.rejected[reason] += 1
            return reason
        kind = ttl_class(lookup.query, depends_on_context=bool(lookup.fingerprint))
        ttl_s = self.ttl_s[kind]
        now = self._clock()
        cached = CachedAnswer(
            text=answer.text,
            model=answer.model,
            query=lookup.query,
            ttl_class=kind,
            created_at=now,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
        )
        await self.exact.set(lookup.key, cached, ttl_s)
        if self.embedder is not None:
            vector = lookup.vector
            if vector is None:
                vector = await self.embedder.embed(normalize_query(lookup.query))
            entry = VectorEntry(lookup.key, lookup.partition, vector, lookup.query, lookup.key, now + ttl_s)
            evicted = self.index.add(entry)
            if self.vector_store is not None:
                await self.vector_store.add(entry)
                await self.vector_store.remove(evicted)
        self.stats.stores += 1
        return None

    async def invalidate(self, key: str) -> int:
        """Drop one entry from both layers; returns how many answers were removed."""
        removed = int(await self.exact.delete(key))
        await self._forget([key] if key in self.index else [])
        self.stats.invalidations += removed
        return removed

    async def invalidate_prefix(self, prefix: str) -> int:
        """Drop every entry whose key starts with ``prefix`` (e.g. ``CacheScope.key_prefix``)."""
        removed = await self.exact.delete_prefix(prefix)
        await self._forget([e.id for e in self.index.entries() if e.key.startswith(prefix)])
        self.stats.invalidations += removed
        return removed

    async def sync(self) -> None:
        """Pick up entries other instances added or removed (done automatically on lookups)."""
        if self.vector_store is None:
            return
        changes = await self.vector_store.changes_since(self._position)
        if changes.reload_required:
            await self._reload()
            return
        for entry_id in changes.removed:
            self.index.remove(entry_id)
        for entry in changes.added:
            if entry.id not in self.index:
                self.index.add(entry)
        self._position = changes.position
        self._synced_at = time.monotonic()

    async def _sync_if_due(self) -> None:
        if self.vector_store is not None and time.monotonic() - self._synced_at >= self.sync_interval_s:
            await self.sync()

    async def _reload(self) -> None:
        assert self.vector_store is not None
        position = await self.vector_store.position()
        self.index = VectorIndex(self.index.dimensions, max_entries=self.index.max_entries)
        for entry in await self.vector_store.load_all(self._clock()):
            self.index.add(entry)
        self._position = position
        self._synced_at = time.monotonic()

    async def _forget(self, entry_ids: list[str]) -> None:
        for entry_id in entry_ids:
            self.index.remove(entry_id)
        if self.vector_store is not None:
            await self.vector_store.remove(entry_ids)
