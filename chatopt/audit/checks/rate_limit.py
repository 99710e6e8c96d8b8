"""``ratelimit.burst``: does the backend limit how fast one user may send (429, Retry-After, RateLimit)?"""

from __future__ import annotations

import asyncio
import time

from chatopt.audit.checks.base import Check
from chatopt.audit.findings import Finding, Impact

HEADERS = (
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-limit-requests",
)
BURST = 20
PARALLEL = 10
#: SPEC's free tier allows 100 messages per hour per user: a backend that enforces it refuses message 101.
SPEC_FREE_PER_HOUR = 100
#: The burst stops after this long even if the backend is slow to answer it.
BURST_MAX_S = 5.0
#: The runner keeps this much of the time budget for the burst.
RESERVED_S = BURST_MAX_S + 2
#: One message, sent again and again: a rate limiter must count it every time, and a cached
#: backend answers it fast, so the burst reaches SPEC's hourly limit within seconds.
BURST_MESSAGE = "Ping: are you there?"


class RateLimitCheck(Check):
    id = "ratelimit.burst"
    spec_ref = "rate-limit"
    summary = "Looks for RateLimit headers, then sends a short burst of messages: any 429 with Retry-After?"
    intrusive = True
    intrusive_reason = (
        f"a burst of {BURST}+ short chat messages, {PARALLEL} at a time, until a 429 or until this user "
        f"has sent {SPEC_FREE_PER_HOUR + 10} messages (SPEC's free-tier hourly limit)"
    )

    async def run(self) -> list[Finding]:
        seen = self._limit_headers(self.session.response_headers)
        wanted = max(BURST, SPEC_FREE_PER_HOUR + 10 - self.session.chats_sent)
        size = min(wanted, self.session.remaining_requests)
        statuses: list[int] = []
        retry_after: str | None = None
        started = time.perf_counter()
        if size >= 5:
            gate = asyncio.Semaphore(PARALLEL)

            async def one(index: int) -> None:
                nonlocal retry_after
                async with gate:
                    if (
                        429 in statuses
                        or self.session.remaining_s < 2
                        or time.perf_counter() - started > BURST_MAX_S
                    ):
                        return
                    probe = await self.session.chat(BURST_MESSAGE, with_calls=False, timeout_s=15)
                statuses.append(probe.exchange.status)
                if probe.exchange.status == 429:
                    retry_after = retry_after or probe.exchange.header("retry-after")
                seen.update(self._limit_headers([probe.exchange.headers]))

            await asyncio.gather(*(one(i) for i in range(size)), return_exceptions=True)
        seconds = time.perf_counter() - started
        total = self.session.chats_sent
        evidence = {
            "burst_requests": len(statuses),
            "burst_seconds": round(seconds, 2),
            "status_counts": {str(s): statuses.count(s) for s in sorted(set(statuses))},
            "ratelimit_headers": sorted(seen),
            "retry_after": retry_after,
            "audit_chat_messages": total,
        }
        limited = 429 in statuses
        if limited and retry_after is None:
            return [
                self.finding(
                    "problem",
                    self.t("429 without Retry-After", "429 sem Retry-After"),
                    severity="low",
                    evidence=evidence,
                    cause=self.t(
                        "the burst was limited but clients are not told when to retry",
                        "a rajada foi limitada, mas o cliente não sabe quando tentar de novo",
                    ),
                    fix=self.t(
                        "send Retry-After (and RateLimit headers) with every 429",
                        "envie Retry-After (e cabeçalhos RateLimit) em todo 429",
                    ),
                    switch="rate_limits",
                    confidence="high",
                )
            ]
        if limited or seen:
            return [
                self.finding(
                    "ok",
                    self.t("Rate limiting in place", "Limite de taxa presente"),
                    evidence=evidence,
                    confidence="high" if limited else "medium",
                )
            ]
        if not statuses:
            return [
                self.not_enough_data(
                    "no budget left for the burst", "sem orçamento para a rajada", **evidence
                )
            ]
        rate = total / max(time.monotonic() - self.session.started, 1) * 3600
        return [
            self.finding(
                "problem",
                self.t("No rate limit", "Sem limite de taxa"),
                severity="high",
                evidence=evidence,
                cause=self.t(
                    f"{total} messages from one user in this audit (~{rate:,.0f}/hour), "
                    f"{len(statuses)} of them in a burst, all accepted with no 429 and no RateLimit headers",
                    f"{total} mensagens de um usuário nesta auditoria (~{rate:,.0f}/hora), "
                    f"{len(statuses)} em rajada, todas aceitas sem 429 e sem cabeçalhos RateLimit",
                ),
                impact=Impact(
                    summary=self.t(
                        "one user or bot can spend the whole AI budget and starve everyone else",
                        "um usuário ou bot pode gastar todo o orçamento de IA e travar os demais",
                    )
                ),
                fix=self.t(
                    "Redis sliding window: 100 msgs/hour per free user, 1000 premium, 500 req/hour per IP; "
                    "global shedding over 80% capacity; 429 + Retry-After",
                    "janela deslizante no Redis: 100 msgs/hora por usuário free, 1000 premium, 500 req/hora "
                    "por IP; corte global acima de 80% da capacidade; 429 + Retry-After",
                ),
                switch="rate_limits",
                confidence="high" if total > 100 else "medium",
            )
        ]

    @staticmethod
    def _limit_headers(header_sets: list[dict[str, str]]) -> set[str]:
        return {name for headers in header_sets for name in headers if name.lower() in HEADERS}
