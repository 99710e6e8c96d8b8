"""P1 chunking: the first token goes out at once, then tokens are coalesced by count or time.

A pump task reads the upstream so a time-based flush happens even while the
upstream is silent; closing the coalescer cancels the pump, which closes the
upstream connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import anyio

from reference_server.llm.client import Delta, StreamEnd

_DONE = object()


async def _pump(upstream: AsyncIterator[Delta | StreamEnd], queue: asyncio.Queue[object]) -> None:
    try:
        async for item in upstream:
            queue.put_nowait(item)
            # A burst of buffered upstream events would otherwise be parsed in one loop step
            # (hundreds of milliseconds under load): hand the loop back after every event.
            await asyncio.sleep(0)
    except Exception as exc:
        await queue.put(exc)
    finally:
        aclose = getattr(upstream, "aclose", None)
        if aclose is not None:
            await aclose()
    await queue.put(_DONE)


async def coalesce(
    upstream: AsyncIterator[Delta | StreamEnd], max_tokens: int, max_wait_s: float
) -> AsyncIterator[str | StreamEnd]:
    """Yield joined delta text: the first delta alone, then up to ``max_tokens`` deltas or
    whatever arrived within ``max_wait_s`` of the oldest unsent one; finally the StreamEnd."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    pump = asyncio.create_task(_pump(upstream, queue), name="upstream-pump")
    loop = asyncio.get_running_loop()
    buffer: list[str] = []
    first_sent = False
    deadline = 0.0
    try:
        while True:
            if not queue.empty():
                item = queue.get_nowait()
            elif buffer:
                try:
                    async with asyncio.timeout_at(deadline):
                        item = await queue.get()
                except TimeoutError:
                    yield "".join(buffer)
                    buffer.clear()
                    continue
            else:
                item = await queue.get()
            if isinstance(item, Exception):
                raise item
            if item is _DONE:
                return
            if isinstance(item, StreamEnd):
                if buffer:
                    yield "".join(buffer)
                    buffer.clear()
                yield item
                continue
            if not isinstance(item, Delta):
                continue
            if not first_sent:
                first_sent = True
                yield item.text
                continue
            if not buffer:
                deadline = loop.time() + max_wait_s
            buffer.append(item.text)
            if len(buffer) >= max_tokens or loop.time() >= deadline:
                yield "".join(buffer)
                buffer.clear()
    finally:
        pump.cancel()
        with anyio.CancelScope(shield=True), contextlib.suppress(asyncio.CancelledError):
            await pump
