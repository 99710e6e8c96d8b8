"""The cold-tier job: every ``every_s`` seconds, move idle conversations to the archive.

Several server workers may each run it: claiming a conversation is one conditional
UPDATE, so two runs never archive the same conversation twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

logger = logging.getLogger(__name__)

#: The first run waits this long, so start-up is not slowed down by it.
FIRST_RUN_DELAY_S = 30.0


class PeriodicArchiver:
    """Calls ``archive(now)`` periodically in a background task; failures are logged and retried."""

    def __init__(
        self,
        archive: Callable[[datetime], Awaitable[int]],
        every_s: float,
        first_delay_s: float = FIRST_RUN_DELAY_S,
    ) -> None:
        self._archive = archive
        self.every_s = every_s
        self.first_delay_s = first_delay_s
        self.runs = 0
        self.archived = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="chatopt-cold-archiver")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(self.first_delay_s)
        while True:
            try:
                self.archived += await self._archive(datetime.now(UTC))
            except Exception:
                logger.exception("moving idle conversations to the cold tier failed; retrying next period")
            self.runs += 1
            await asyncio.sleep(self.every_s)
