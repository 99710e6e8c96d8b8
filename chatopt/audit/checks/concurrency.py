"""``concurrency.scaling``: 1 -> 5 -> 20 users at once; does latency hold, or do requests queue?

A canary (a plain GET on the same server) is timed while the users wait: an event loop
blocked by synchronous work cannot answer it, so its latency jumps from milliseconds
to the length of the blocking call.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from chatopt.audit.checks.base import Check, median, rounded
from chatopt.audit.findings import Finding, Impact
from chatopt.audit.session import BudgetExhausted
from chatopt.profiling.process import ProcessSampler

LEVELS = (1, 5, 20)
MESSAGE = "Quick question: what is your return policy?"
CANARY_EVERY_S = 0.1
#: A canary slower than this while users wait means the loop was blocked (SPEC P5).
BLOCKED_CANARY_MS = 1000.0
#: Median latency at N users over the 1-user latency at or above max(2.5, 0.4 N) means requests run one
#: at a time (fully serialized, the median waits for about N/2 others).
SERIALIZED_RATIO = 2.5
SERIALIZED_PER_USER = 0.4


def _serialized_ratio(users: int) -> float:
    return max(SERIALIZED_RATIO, SERIALIZED_PER_USER * users)


class ConcurrencyCheck(Check):
    id = "concurrency.scaling"
    spec_ref = "P5"
    summary = "Latency at 1, 5 and 20 concurrent users, with a canary GET that exposes a blocked event loop."

    async def run(self) -> list[Finding]:
        session = self.session
        sampler = ProcessSampler(session.options.pid) if session.options.pid else None
        idle = await self._idle_canary()
        levels: list[dict] = []
        base_ms: float | None = None
        for users in LEVELS:
            if session.remaining_requests < users or session.remaining_s < 4:
                break
            cap_s = 15.0 if base_ms is None else min(15.0, max(3.0, 4 * base_ms / 1000 + 2))
            cap_s = min(cap_s, session.remaining_s - 1)
            try:
                level = await self._level(users, cap_s, sampler)
            except BudgetExhausted:
                break
            levels.append(level)
            if users == 1:
                base_ms = level["median_ms"]
            if base_ms and users > 1 and level["median_ms"] / base_ms >= _serialized_ratio(users):
                break  # already serialized: 20 users would only pile up work on the server
        if len(levels) < 2 or not base_ms:
            return [
                self.not_enough_data(
                    "not enough budget for two concurrency levels",
                    "orçamento insuficiente para dois níveis",
                    levels=levels,
                )
            ]
        evidence = {"idle_canary_ms": rounded(idle), "levels": levels}
        worst = max(
            levels[1:], key=lambda level: level["median_ms"] / base_ms / _serialized_ratio(level["users"])
        )
        ratio = worst["median_ms"] / base_ms
        canary = max((level["canary_p95_ms"] or 0) for level in levels)
        evidence |= {"latency_ratio": round(ratio, 2), "canary_p95_ms_under_load": rounded(canary)}
        blocked = canary >= BLOCKED_CANARY_MS and canary >= 10 * max(idle or 1.0, 1.0)
        serialized = ratio >= _serialized_ratio(worst["users"])
        if not (blocked or serialized):
            return [
                self.finding(
                    "ok",
                    self.t(
                        "Concurrent users are served in parallel",
                        "Usuários simultâneos atendidos em paralelo",
                    ),
                    evidence=evidence,
                    confidence="high",
                )
            ]
        what = self.t(
            f"with {worst['users']} users the median answer took {ratio:.1f}x the single-user time",
            f"com {worst['users']} usuários a resposta mediana levou {ratio:.1f}x o tempo de um usuário",
        )
        if blocked:
            what += self.t(
                f"; a plain GET on the same server waited {canary:.0f} ms (idle: {idle or 0:.0f} ms), "
                "so the event loop was blocked",
                f"; um GET simples no mesmo servidor esperou {canary:.0f} ms (ocioso: {idle or 0:.0f} ms), "
                "então o event loop estava bloqueado",
            )
        return [
            self.finding(
                "problem",
                self.t(
                    "Blocking event loop: requests are served one at a time",
                    "Event loop bloqueante: requisições atendidas uma por vez",
                )
                if blocked
                else self.t("Requests queue under concurrency", "Requisições enfileiram sob concorrência"),
                severity="critical" if blocked else "high",
                evidence=evidence,
                cause=what,
                impact=Impact(
                    ms_per_request=rounded(worst["median_ms"] - base_ms),
                    summary=self.t(
                        f"extra wait per request at {worst['users']} concurrent users",
                        f"espera extra por requisição com {worst['users']} usuários simultâneos",
                    ),
                ),
                fix=self.t(
                    "make the critical path async: async AI client with timeouts, async/pooled DB, no sync "
                    "file or crypto calls on the loop; move embeddings and summaries to worker threads",
                    "deixe o caminho crítico assíncrono: cliente de IA assíncrono com timeouts, banco "
                    "assíncrono com pool, nada síncrono no loop; embeddings e resumos em threads",
                ),
                switch="async_io",
                confidence="high" if blocked and serialized else "medium",
                next_step="chatopt profile --pid PID --duration 30s (find the blocking call)",
            )
        ]

    async def _idle_canary(self) -> float | None:
        times = [await self._ping(5.0) for _ in range(5)]
        return median([t for t in times if t is not None])

    async def _ping(self, timeout_s: float) -> float | None:
        started = time.perf_counter()
        try:
            await self.session.client.get(self.session.origin + "/", timeout=timeout_s)
        except httpx.HTTPError:
            return None
        return (time.perf_counter() - started) * 1000

    async def _level(self, users: int, cap_s: float, sampler: ProcessSampler | None) -> dict:
        if self.session.remaining_s <= 0:
            raise BudgetExhausted("time budget spent")
        started = time.perf_counter()
        tasks = [
            asyncio.create_task(self.session.chat(f"{MESSAGE} (user {i})", with_calls=False))
            for i in range(users)
        ]
        canary: list[float] = []
        stop = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                ping = self._ping(cap_s)
                sent = time.perf_counter()
                lag = await ping
                canary.append(lag if lag is not None else (time.perf_counter() - sent) * 1000)
                if sampler is not None:
                    sample = sampler.sample()
                    self.session.rss_samples.append((sample.at, sample.rss_mb))
                await asyncio.sleep(CANARY_EVERY_S)

        watcher = asyncio.create_task(watch())
        done, pending = await asyncio.wait(tasks, timeout=cap_s)
        stop.set()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await watcher
        latencies = []
        for task in tasks:
            if task in done and task.exception() is None and task.result().ok:
                latencies.append(task.result().total_ms)
            else:
                latencies.append(cap_s * 1000)  # unfinished: censored at the cap
        finished = sum(1 for task in done if task.exception() is None and task.result().ok)
        ordered = sorted(canary)
        return {
            "users": users,
            "finished": finished,
            "median_ms": round(median(latencies) or 0, 1),
            "wall_s": round(time.perf_counter() - started, 2),
            "canary_p95_ms": rounded(ordered[int(0.95 * (len(ordered) - 1))]) if ordered else None,
        }
