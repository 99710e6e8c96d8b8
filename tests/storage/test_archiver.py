"""The periodic cold-tier job."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from reference_server.settings import settings_for_profile
from reference_server.storage.archiver import PeriodicArchiver
from reference_server.storage.factory import build_store
from reference_server.storage.sql_store import SqlChatStore
from tests.storage.conftest import SECRET, make_message


async def _wait_for(condition, attempts: int = 300) -> None:  # type: ignore[no-untyped-def]
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.01)


async def test_idle_conversations_are_archived_in_the_background(tmp_path: Path) -> None:
    store = SqlChatStore(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", secret=SECRET, cold_after_days=0)
    await store.start()
    archiver = PeriodicArchiver(store.archive_idle, every_s=0.01, first_delay_s=0)
    try:
        conversation = await store.create_conversation("alice", "soon cold")
        await store.append_messages(conversation.id, [make_message(conversation.id, 0)])
        archiver.start()
        await _wait_for(lambda: archiver.archived >= 1)
        assert archiver.archived == 1
        assert [m.content for m in await store.all_messages(conversation.id)] == ["message 0"]
    finally:
        await archiver.stop()
        await store.close()


async def test_a_failing_run_is_retried_next_period() -> None:
    calls: list[datetime] = []

    async def flaky(now: datetime) -> int:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("database briefly away")
        return 2

    archiver = PeriodicArchiver(flaky, every_s=0.01, first_delay_s=0)
    archiver.start()
    await _wait_for(lambda: archiver.runs >= 3)
    await archiver.stop()
    assert archiver.runs >= 3 and archiver.archived == 2 * (len(calls) - 1)


def test_only_tiered_storage_schedules_the_job(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"
    assert build_store(settings_for_profile("optimized", database_url=url)).archiver is not None  # type: ignore[attr-defined]
    assert build_store(settings_for_profile("baseline", database_url=url)).archiver is None  # type: ignore[attr-defined]
