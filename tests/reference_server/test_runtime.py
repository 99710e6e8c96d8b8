"""P5 runtime: the loop-lag monitor sees blocking, the job queue is bounded and drains on shutdown."""

from __future__ import annotations

import asyncio
import threading
import time

from reference_server.runtime.jobs import JobQueue
from reference_server.runtime.loop_lag import LoopLagMonitor, percentile
from reference_server.runtime.workers import CpuPool


def test_percentile_is_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.99) == 0.0


async def test_monitor_reports_a_blocked_loop():
    monitor = LoopLagMonitor(interval_s=0.01)
    await monitor.start()
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.25)  # noqa: ASYNC251 - blocking the loop on purpose, as sync DB writes do
        await asyncio.sleep(0.05)
        snapshot = monitor.snapshot()
    finally:
        await monitor.stop()
    assert snapshot.samples >= 2
    assert snapshot.max_ms >= 200
    assert snapshot.p99_ms == snapshot.max_ms or snapshot.samples > 100
    monitor.reset()
    assert monitor.snapshot().samples == 0


async def test_cpu_pool_runs_work_off_the_loop_thread():
    pool = CpuPool(1)
    try:
        worker_thread = await pool.run(threading.get_ident)
        total = await pool.run(sum, range(10), start=5)
    finally:
        pool.close()
    assert worker_thread != threading.get_ident()
    assert total == 50


async def test_offer_refuses_when_full_and_close_drains_queued_jobs():
    queue = JobQueue(capacity=2, workers=1)
    release = asyncio.Event()
    ran: list[int] = []

    def job(n: int):
        async def run() -> None:
            await release.wait()
            ran.append(n)

        return run

    await queue.start()
    assert queue.offer(job(0))
    await asyncio.sleep(0.01)  # the worker takes job 0 and waits
    assert queue.offer(job(1)) and queue.offer(job(2))
    assert not queue.offer(job(3))
    assert queue.stats().refused == 1 and queue.stats().queued == 2
    release.set()
    await queue.close(timeout_s=5)
    assert ran == [0, 1, 2]
    assert not queue.offer(job(4))
    stats = queue.stats()
    assert (stats.done, stats.failed, stats.refused, stats.queued) == (3, 0, 2, 0)


async def test_failing_jobs_are_counted_and_do_not_stop_the_worker():
    queue = JobQueue(capacity=4, workers=1)
    await queue.start()

    async def boom() -> None:
        raise RuntimeError("boom")

    done = asyncio.Event()

    async def fine() -> None:
        done.set()

    queue.offer(boom)
    queue.offer(fine)
    await asyncio.wait_for(done.wait(), 5)
    await queue.close()
    assert queue.stats().failed == 1 and queue.stats().done == 1
