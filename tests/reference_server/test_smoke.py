from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("profile", ["baseline", "optimized"])
async def test_chat_round_trip(start_server, profile):
    server = start_server(profile)
    async with server.client() as client:
        first = await client.post("/api/chat", json={"message": "hello"}, headers=server.headers())
        assert first.status_code == 200, first.text
        body = first.json()
        second = await client.post(
            "/api/chat",
            json={"message": "again", "conversation_id": body["conversation_id"]},
            headers=server.headers(),
        )
        assert second.status_code == 200, second.text
        messages = await client.get(
            f"/api/conversations/{body['conversation_id']}/messages", headers=server.headers()
        )
        assert [m["role"] for m in messages.json()["items"]] == ["user", "assistant", "user", "assistant"]
