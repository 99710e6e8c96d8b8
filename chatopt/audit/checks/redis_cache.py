"""``cache.redis`` (``--redis-url``): are there cache keys, and do they expire?"""

from __future__ import annotations

import redis.asyncio as aioredis

from chatopt.audit.checks.base import Check
from chatopt.audit.findings import Finding

SCAN_LIMIT = 2000


class RedisCacheCheck(Check):
    id = "cache.redis"
    spec_ref = "P2"
    summary = "With --redis-url: samples up to 2,000 keys; counts cache-like keys and keys without a TTL."

    async def run(self) -> list[Finding]:
        url = self.session.options.redis_url
        if not url:
            return [
                self.not_enough_data(
                    "pass --redis-url to inspect the cache", "passe --redis-url para ver o cache"
                )
            ]
        client = aioredis.Redis.from_url(url, socket_timeout=5)
        try:
            keys = []
            async for key in client.scan_iter(count=500):
                keys.append(key)
                if len(keys) >= SCAN_LIMIT:
                    break
            pipeline = client.pipeline(transaction=False)
            for key in keys:
                pipeline.ttl(key)
            ttls = await pipeline.execute() if keys else []
        except Exception as exc:  # any connection error is reported, not raised
            return [
                self.not_enough_data(
                    f"cannot read Redis: {type(exc).__name__}: {exc}",
                    f"não foi possível ler o Redis: {type(exc).__name__}: {exc}",
                )
            ]
        finally:
            await client.aclose()
        cache_keys = [(k, ttl) for k, ttl in zip(keys, ttls, strict=True) if b"cache" in k.lower()]
        forever = [k for k, ttl in cache_keys if ttl == -1]
        evidence = {
            "keys_sampled": len(keys),
            "cache_keys": len(cache_keys),
            "cache_keys_without_ttl": len(forever),
            "examples": [k.decode(errors="replace")[:80] for k, _ in cache_keys[:5]],
        }
        if not cache_keys:
            return [
                self.finding(
                    "problem",
                    self.t("No cache keys in Redis", "Nenhuma chave de cache no Redis"),
                    severity="medium",
                    evidence=evidence,
                    cause=self.t(
                        "Redis holds no key that looks like an answer cache",
                        "o Redis não tem chave que pareça cache de respostas",
                    ),
                    fix=self.t(
                        "store answers under hash(normalized query + context) with a TTL",
                        "guarde respostas em hash(pergunta normalizada + contexto) com TTL",
                    ),
                    switch="cache",
                    confidence="medium",
                )
            ]
        if forever:
            return [
                self.finding(
                    "problem",
                    self.t("Cache keys never expire", "Chaves de cache nunca expiram"),
                    severity="medium",
                    evidence=evidence,
                    cause=self.t(
                        f"{len(forever)} of {len(cache_keys)} cache keys have no TTL",
                        f"{len(forever)} de {len(cache_keys)} chaves de cache não têm TTL",
                    ),
                    fix=self.t(
                        "TTL 7 days for FAQ answers, 1 day for dynamic context",
                        "TTL de 7 dias para FAQ, 1 dia para contexto dinâmico",
                    ),
                    switch="cache",
                    confidence="high",
                )
            ]
        return [
            self.finding(
                "ok",
                self.t("Cache keys with TTLs", "Chaves de cache com TTL"),
                evidence=evidence,
                confidence="medium",
            )
        ]
