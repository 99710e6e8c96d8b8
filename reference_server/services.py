"""The ``Services`` container: everything a request needs, built once per app in the lifespan.

Core services are always present; the optional slots (cache, router, admission,
input filter, metrics) are filled by their own packages and used only when their
switch is on. ``app.state.services`` holds the container.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from chatopt import tokens
from reference_server.chat.hooks import Admission, AnswerCache, InputFilter, ModelRouter
from reference_server.context.summaries import Summarizer
from reference_server.llm.client import LLMClient
from reference_server.runtime.jobs import JobQueue
from reference_server.runtime.loop_lag import LoopLagMonitor
from reference_server.runtime.workers import CpuPool
from reference_server.settings import DEV_SECRET, ServerSettings
from reference_server.storage.base import ChatStore

P = ParamSpec("P")
R = TypeVar("R")
logger = logging.getLogger("reference_server")

JOB_QUEUE_CAPACITY = 256
#: Summary jobs mostly wait on the upstream, so several run at once.
JOB_WORKERS = 8
CPU_WORKERS = 2
SHUTDOWN_DRAIN_S = 10.0


@dataclass
class Services:
    """Shared, long-lived objects of one app instance."""

    settings: ServerSettings
    store: ChatStore
    llm: LLMClient
    jobs: JobQueue
    cpu: CpuPool
    loop_lag: LoopLagMonitor
    summarizer: Summarizer
    redis: Any | None = None
    input_filter: InputFilter | None = None
    admission: Admission | None = None
    cache: AnswerCache | None = None
    router: ModelRouter | None = None
    metrics: Any | None = None

    async def offload(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run CPU-heavy ``fn`` in the worker pool (``async_io`` on) or inline (baseline)."""
        if self.settings.async_io:
            return await self.cpu.run(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    async def close(self) -> None:
        """Graceful shutdown: drain background jobs, then flush and release everything."""
        await self.jobs.close(SHUTDOWN_DRAIN_S)
        await self.loop_lag.stop()
        await self.store.close()
        await self.llm.close()
        if self.redis is not None:
            await self.redis.aclose()
        self.cpu.close()


def _build_store(settings: ServerSettings, redis: Any | None) -> ChatStore:
    from reference_server.storage.factory import build_store

    return build_store(settings, redis=redis)


async def open_services(settings: ServerSettings, store: ChatStore | None = None) -> Services:
    """Build and start every core service (``store`` overrides the configured one)."""
    if settings.secret == DEV_SECRET:
        logger.warning("using the development secret; set CHATOPT_SECRET before exposing this server")
    redis = None
    if settings.redis_url:
        import redis.asyncio as aioredis

        redis = aioredis.Redis.from_url(settings.redis_url)
    store = store or _build_store(settings, redis)
    await store.start()
    cpu = CpuPool(CPU_WORKERS)
    if settings.context_window:
        # Load the tokenizer's vocabulary now: parsing it takes the GIL for about a second,
        # which would freeze the event loop under the first windowed request.
        await cpu.run(tokens.get_encoding, tokens.encoding_for_model(settings.default_model).encoding)
    llm = LLMClient(settings)
    jobs = JobQueue(capacity=JOB_QUEUE_CAPACITY, workers=JOB_WORKERS)
    await jobs.start()
    loop_lag = LoopLagMonitor()
    await loop_lag.start()
    return Services(
        settings=settings,
        store=store,
        llm=llm,
        jobs=jobs,
        cpu=cpu,
        loop_lag=loop_lag,
        summarizer=Summarizer(settings, store, llm, jobs),
        redis=redis,
    )
