"""Thousands of request and cancel-mid-stream cycles: tasks, file descriptors and RSS stay bounded."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import httpx
import psutil
import pytest
import uvicorn

from reference_server.app import create_app
from reference_server.auth import issue_token
from reference_server.settings import settings_for_profile
from tests.services import free_port

pytestmark = pytest.mark.slow

SECRET = "memory-test-secret"
WARMUP_CYCLES = 300
CYCLES = 1500
CONCURRENCY = 24
TASK_SLACK = 8
FD_SLACK = 16
RSS_SLACK_BYTES = 40 * 1024 * 1024


def _usage() -> tuple[int, int, int]:
    gc.collect()
    process = psutil.Process()
    return len(asyncio.all_tasks()), process.num_fds(), process.memory_info().rss


async def _settled(task_bound: int, timeout_s: float = 15.0) -> tuple[int, int, int]:
    """Usage once in-flight work has drained (or the timeout passed): what is left is what leaked."""
    for _ in range(int(timeout_s / 0.2)):
        if len(asyncio.all_tasks()) <= task_bound:
            break
        await asyncio.sleep(0.2)
    return _usage()


async def test_cycles_do_not_grow_tasks_fds_or_rss(upstream, tmp_path: Path):
    fake, base_url = upstream
    fake.script.answer_words = 60
    fake.script.token_delay_s = 0.02  # a full streamed answer takes seconds: cancels land mid-stream
    settings = settings_for_profile(
        "optimized",
        llm_base_url=base_url,
        secret=SECRET,
        cache=False,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/memory.db",
        rate_free_per_hour=10**7,
        rate_ip_per_hour=10**7,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )
    serving = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    headers = {"Authorization": f"Bearer {issue_token(SECRET, 'leak-hunter')}"}
    stream_headers = {**headers, "Accept": "text/event-stream"}
    outcomes = {"cancelled": 0, "completed": 0}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            async def cycle(i: int) -> None:
                if i % 4 == 3:
                    response = await client.post("/api/chat", json={"message": f"whole {i}"}, headers=headers)
                    assert response.status_code == 200
                    outcomes["completed"] += 1
                    return
                async with client.stream(
                    "POST", "/api/chat", json={"message": f"cut {i}"}, headers=stream_headers
                ) as response:
                    assert response.status_code == 200
                    async for line in response.aiter_lines():
                        if line.startswith("event: token"):
                            break
                outcomes["cancelled"] += 1

            async def run(count: int) -> None:
                gate = asyncio.Semaphore(CONCURRENCY)

                async def bounded(i: int) -> None:
                    async with gate:
                        await cycle(i)

                await asyncio.wait_for(asyncio.gather(*(bounded(i) for i in range(count))), timeout=240)

            await run(WARMUP_CYCLES)
            await asyncio.sleep(0.5)
            tasks_before, fds_before, rss_before = _usage()
            await run(CYCLES)
            tasks_after, fds_after, rss_after = await _settled(tasks_before + TASK_SLACK)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=30)
    assert outcomes["cancelled"] > CYCLES // 2 and outcomes["completed"] > CYCLES // 5
    # Every upstream stream ended (none left open behind a departed client); many were cut short.
    assert fake.streams_started == fake.streams_cancelled + fake.streams_finished
    assert fake.streams_cancelled > 0
    assert tasks_after <= tasks_before + TASK_SLACK, (tasks_before, tasks_after)
    assert fds_after <= fds_before + FD_SLACK, (fds_before, fds_after)
    assert rss_after <= rss_before + RSS_SLACK_BYTES, (rss_before, rss_after)
