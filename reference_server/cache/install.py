"""Plug the answer cache into the chat pipeline (``cache`` switch).

:class:`PipelineCache` fills the pipeline's ``AnswerCache`` slot: the lookup keys a turn
on its scope (``settings.cache_scope``, system-prompt version, the tier the router would
pick) and its conversation context, and remembers the lookup on the turn so the store
after the answer files it under the same key, and the response can say ``X-Cache``.
The cache never breaks a chat: when Redis or the embedding model fails, the turn is a
miss (logged and counted in ``stats.errors``) and the answer is not stored.
"""

from __future__ import annotations

import asyncio
import logging

from reference_server.cache.admission import CompletedAnswer
from reference_server.cache.chat_cache import CacheLookup, ChatCache
from reference_server.cache.factory import build_cache, default_embed_function, scope_for
from reference_server.cache.keys import CacheScope
from reference_server.chat.hooks import CachedAnswer
from reference_server.chat.turn import Turn
from reference_server.routing.classifier import classify
from reference_server.routing.router import TIER_LABELS
from reference_server.services import Services
from reference_server.settings import ServerSettings

log = logging.getLogger("reference_server.cache")


def turn_history(turn: Turn) -> list[dict[str, str]]:
    """The turn's earlier messages as role/content pairs."""
    return [{"role": m.role, "content": m.content} for m in turn.history]


class PipelineCache:
    """The pipeline's cache slot over a :class:`ChatCache`."""

    def __init__(self, cache: ChatCache, settings: ServerSettings) -> None:
        self.cache = cache
        self.settings = settings

    def scope(self, user_id: str, question: str, history: list[dict[str, str]]) -> CacheScope:
        """Who may share an answer (the routed tier is part of it when routing is on)."""
        if self.settings.routing:
            tier = TIER_LABELS[classify(question, len(history)).complexity]
        else:
            tier = self.settings.default_model
        return scope_for(self.settings, user_id=user_id, tenant_id=None, model_tier=tier)

    async def lookup(self, turn: Turn) -> CachedAnswer | None:
        history = turn_history(turn)
        scope = self.scope(turn.identity.user_id, turn.message, history)
        try:
            found = await self.cache.lookup(turn.message, history, scope)
        except Exception:
            self._failed("lookup")
            turn.cache_lookup = CacheLookup("miss", None, turn.message, "", "", "")  # nothing to store
            return None
        turn.cache_lookup = found
        if found.answer is None:
            return None
        return CachedAnswer(reply=found.answer.text, model=found.answer.model)

    async def store(self, turn: Turn, reply: str, model: str) -> None:
        found = turn.cache_lookup
        if not isinstance(found, CacheLookup) or found.hit or not found.key:
            return
        try:
            await self.cache.store(found, CompletedAnswer(reply, model, turn.finish_reason))
        except Exception:
            self._failed("store")

    def _failed(self, stage: str) -> None:
        self.cache.stats.errors += 1
        log.warning("answer cache %s failed; serving without the cache", stage, exc_info=True)

    async def forget(self, user_id: str, question: str, history: list[dict[str, str]], answer: str) -> int:
        """Negative feedback: drop the entry that would serve ``answer`` to ``question`` again."""
        scope = self.scope(user_id, question, history)
        found = await self.cache.lookup(question, history, scope, record=False)
        if found.answer is None or found.served_key is None or found.answer.text != answer:
            return 0
        return await self.cache.invalidate(found.served_key)

    async def close(self) -> None:
        await self.cache.close()


async def attach_cache(services: Services) -> None:
    """Fill ``services.cache`` when the ``cache`` switch is on (Redis-backed when Redis is configured)."""
    settings = services.settings
    if not settings.cache:
        return
    embed = None
    if settings.cache_semantic:  # loading the offline model must not block the loop
        embed = await asyncio.to_thread(default_embed_function, settings)
    cache = build_cache(settings, services.redis, embed=embed)
    try:
        await cache.start()
    except Exception:  # Redis down at start-up: begin empty, the change log fills the index later
        cache.stats.errors += 1
        log.warning("could not load cached vectors; starting with an empty semantic index", exc_info=True)
    services.cache = PipelineCache(cache, settings)


async def detach_cache(services: Services) -> None:
    """Release the cache's embedding thread."""
    if isinstance(services.cache, PipelineCache):
        await services.cache.close()
