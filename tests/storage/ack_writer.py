"""A chat writer to be SIGKILLed: prints ``ack <id>`` only after ``append_messages`` returned.

Run as ``python -m tests.storage.ack_writer DATABASE_URL PROFILE [REDIS_URL]``; the
durability test kills it mid-run and checks that every acknowledged id is in the database.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime

from reference_server.settings import settings_for_profile
from reference_server.storage.base import Message
from reference_server.storage.factory import build_store

WRITERS = 4
APPENDS_PER_WRITER = 5000


async def main(database_url: str, profile: str, redis_url: str | None) -> None:
    settings = settings_for_profile(profile, database_url=database_url, redis_url=redis_url)  # type: ignore[arg-type]
    store = build_store(settings)
    await store.start()
    conversation = await store.create_conversation("alice", "killed mid-run")
    print("conversation", conversation.id, flush=True)

    async def writer() -> None:
        for _ in range(APPENDS_PER_WRITER):
            message = Message(uuid.uuid4().hex, conversation.id, "user", "hello", datetime.now(UTC))
            await store.append_messages(conversation.id, [message])
            print("ack", message.id, flush=True)
            await asyncio.sleep(0)  # let the other writers in, even on the blocking store

    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
