"""A bounded background job queue: heavy work (summaries) never runs on the request path.

``offer`` never blocks a request: when the queue is full the job is refused and
counted (backpressure by shedding: a summary can wait for the next turn, a request
cannot). ``close`` stops taking jobs and drains what is queued, within a deadline, on
graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Job = Callable[[], Awaitable[None]]
logger = logging.getLogger("reference_server.jobs")


@dataclass(frozen=True)
class JobQueueStats:
    """Counters since start: queued now, done, failed, refused for lack of room."""

    queued: int
    running: int
    done: int
    failed: int
    refused: int
    capacity: int


class JobQueue:
    """``workers`` tasks draining a queue of at most ``capacity`` jobs."""

    def __init__(self, capacity: int = 256, workers: int = 2) -> None:
        self.capacity = capacity
        self._queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=capacity)
        self._workers_wanted = workers
        self._workers: list[asyncio.Task[None]] = []
        self._closed = False
        self._running = 0
        self._done = 0
        self._failed = 0
        self._refused = 0

    async def start(self) -> None:
        self._workers = [
            asyncio.create_task(self._work(), name=f"job-worker-{n}") for n in range(self._workers_wanted)
        ]

    def offer(self, job: Job) -> bool:
        """Queue ``job`` if there is room; False (and counted) when full or closed."""
        if self._closed:
            self._refused += 1
            return False
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self._refused += 1
            return False
        return True

    async def close(self, timeout_s: float = 10.0) -> None:
        """Refuse new jobs, drain the queued ones (up to ``timeout_s``), stop the workers."""
        self._closed = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout_s)
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []

    def stats(self) -> JobQueueStats:
        return JobQueueStats(
            queued=self._queue.qsize(),
            running=self._running,
            done=self._done,
            failed=self._failed,
            refused=self._refused,
            capacity=self.capacity,
        )

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self._running += 1
            try:
                await job()
                self._done += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                self._failed += 1
                logger.exception("background job failed")
            finally:
                self._running -= 1
                self._queue.task_done()
