"""``loop.blocking`` (``--pid``): py-spy watches the backend's event-loop thread while users chat.

The loop thread's samples split into waiting (healthy), running on the CPU, and busy
but off the CPU: stuck in a blocking call (a sync DB driver, ``requests``, a sleep).
The last kind stalls every other user's request, which is what SPEC P5 forbids.
"""

from __future__ import annotations

import asyncio

from chatopt.audit.checks.base import Check, rounded
from chatopt.audit.findings import Finding, Impact
from chatopt.audit.session import BudgetExhausted
from chatopt.errors import ChatoptError
from chatopt.profiling.process import ProcessSampler
from chatopt.profiling.pyspy import sample_process

USERS = 5
MAX_REQUESTS = 40
#: The loop thread spending this share of its time blocked (off-CPU but not waiting for events) is a finding.
#: It is the difference of two sampled shares, so it is noisy on a busy machine: only a large gap counts.
BLOCKED_SHARE = 0.30
#: ...or any recognizable synchronous I/O call seen in at least this many loop samples (noise floor).
SYNC_IO_SAMPLES = 3


class EventLoopCheck(Check):
    id = "loop.blocking"
    spec_ref = "P5"
    summary = "With --pid: py-spy samples the event-loop thread under 5 users: blocked in sync I/O, or free?"

    async def run(self) -> list[Finding]:
        pid = self.session.options.pid
        if pid is None:
            return [
                self.not_enough_data(
                    "pass --pid PID of a Python backend to sample its event loop",
                    "passe --pid PID de um backend Python para amostrar o event loop",
                )
            ]
        duration = min(4.0, self.session.remaining_s - 2)
        if duration < 2:
            return [self.not_enough_data("no time left in the budget", "sem tempo no orçamento")]
        try:
            profile_task = asyncio.create_task(sample_process(pid, duration))
            sent, _ = await asyncio.gather(self._load(profile_task), self._watch_memory(pid, profile_task))
            profile = await profile_task
        except ChatoptError as exc:
            return [
                self.not_enough_data(
                    f"py-spy could not sample: {exc}", f"py-spy não conseguiu amostrar: {exc}"
                )
            ]
        loop = profile.loop
        if loop is None or loop.samples == 0:
            return [
                self.not_enough_data(
                    "no asyncio event loop thread found in the process",
                    "nenhuma thread de event loop asyncio no processo",
                    threads=profile.threads,
                )
            ]
        blocked = loop.blocked_share or 0.0
        evidence = {
            "sampled_s": duration,
            "requests_during_sampling": sent,
            "loop_samples": loop.samples,
            "loop_busy_share": rounded(loop.busy_share, 3),
            "loop_cpu_share": rounded(loop.cpu_share, 3),
            "loop_blocked_share": rounded(blocked, 3),
            "sync_io_share": rounded(loop.sync_io_share, 3),
            "sync_io_calls": loop.sync_io_calls[:3],
            "blocking_calls": loop.blocking_calls[:5],
        }
        sync_samples = sum(count for _, count in loop.sync_io_calls)
        if blocked < BLOCKED_SHARE and sync_samples < SYNC_IO_SAMPLES:
            return [
                self.finding(
                    "ok",
                    self.t("Event loop is not blocked", "Event loop não está bloqueado"),
                    evidence=evidence,
                    confidence="medium",
                )
            ]
        culprit = (loop.sync_io_calls or loop.blocking_calls or [("?", 0)])[0][0]
        return [
            self.finding(
                "problem",
                self.t(
                    "Blocking event loop: sync calls on the loop thread",
                    "Event loop bloqueante: chamadas síncronas na thread do loop",
                ),
                severity="critical",
                evidence=evidence,
                cause=self.t(
                    f"under {USERS} users the loop thread was blocked {blocked:.0%} of the time and in sync "
                    f"I/O {loop.sync_io_share:.0%} of the time; top call: {culprit}",
                    f"com {USERS} usuários a thread do loop ficou bloqueada {blocked:.0%} do tempo e em I/O "
                    f"síncrono {loop.sync_io_share:.0%} do tempo; principal chamada: {culprit}",
                ),
                impact=Impact(
                    summary=self.t(
                        "every blocked moment delays every other user's request",
                        "cada instante bloqueado atrasa a requisição de todos os outros",
                    )
                ),
                fix=self.t(
                    "use async drivers (asyncpg/aiosqlite, AsyncOpenAI, redis.asyncio) or run the sync call "
                    "in a thread (asyncio.to_thread); keep CPU work in a worker pool",
                    "use drivers assíncronos (asyncpg/aiosqlite, AsyncOpenAI, redis.asyncio) ou rode a "
                    "chamada síncrona numa thread (asyncio.to_thread); CPU pesado num pool de workers",
                ),
                switch="async_io",
                confidence="high",
                next_step="chatopt profile --pid PID --duration 30s",
            )
        ]

    async def _watch_memory(self, pid: int, until: asyncio.Task) -> None:
        """RSS samples for ``memory.rss`` while the load runs."""
        sampler = ProcessSampler(pid)
        while not until.done():
            sample = sampler.sample()
            self.session.rss_samples.append((sample.at, sample.rss_mb))
            await asyncio.sleep(0.5)

    async def _load(self, until: asyncio.Task) -> int:
        sent = 0

        async def user(index: int) -> None:
            nonlocal sent
            while not until.done() and sent < MAX_REQUESTS:
                sent += 1
                try:
                    await self.session.chat(
                        f"Short question {index}-{sent}: what is your refund window?",
                        with_calls=False,
                        timeout_s=10,
                    )
                except BudgetExhausted:
                    return

        await asyncio.gather(*(user(i) for i in range(USERS)))
        return sent
