"""The baseline's API contract, run unchanged against every profile and store backend.

Backward compatibility is this test: the same requests and assertions pass against
``baseline`` and ``optimized``, on SQLite and on the real PostgreSQL + Redis.
"""

from __future__ import annotations

import pytest

from reference_server.auth import issue_token

PROFILES = ["baseline", "optimized"]
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.services)]


@pytest.fixture(params=PROFILES)
def profile(request) -> str:
    return request.param


@pytest.fixture(params=BACKENDS)
def server(request, profile, start_server):
    if request.param == "postgres":
        return start_server(
            profile,
            database_url=request.getfixturevalue("postgres_url"),
            redis_url=request.getfixturevalue("redis_url"),
        )
    return start_server(profile)


async def chat(client, server, message, conversation_id=None, user="alice"):
    body = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    response = await client.post("/api/chat", json=body, headers=server.headers(user))
    assert response.status_code == 200, response.text
    return response.json()


async def test_chat_reply_shape_and_a_continued_conversation(server):
    async with server.client() as client:
        first = await chat(client, server, "What is a cache?")
        assert set(first) == {"conversation_id", "message_id", "reply", "model", "usage"}
        assert first["reply"].startswith("Answer to What is a cache?")
        settings = server.settings
        assert first["model"] in {settings.model_small, settings.model_medium, settings.model_large}
        usage = first["usage"]
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        second = await chat(client, server, "And a queue?", first["conversation_id"])
        assert second["conversation_id"] == first["conversation_id"]
        assert second["message_id"] != first["message_id"]
        # the model saw the earlier exchange (full history or window: both keep the last one)
        sent = server.upstream.calls[-1].messages
        assert [m["content"] for m in sent if m["role"] == "user"][-2:] == [
            "What is a cache?",
            "And a queue?",
        ]
        page = (
            await client.get(
                f"/api/conversations/{first['conversation_id']}/messages", headers=server.headers()
            )
        ).json()
    assert [(m["role"], m["content"]) for m in page["items"]] == [
        ("user", "What is a cache?"),
        ("assistant", first["reply"]),
        ("user", "And a queue?"),
        ("assistant", second["reply"]),
    ]
    assert page["next_cursor"] is None
    assert page["items"][-1]["id"] == second["message_id"] and page["items"][-1]["complete"] is True


async def test_conversations_and_messages_page_with_cursors(server):
    async with server.client() as client:
        ids = [(await chat(client, server, f"topic {index}"))["conversation_id"] for index in range(5)]
        await chat(client, server, "back to the first", ids[0])
        seen, cursor = [], None
        for _ in range(5):
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            response = await client.get("/api/conversations", params=params, headers=server.headers())
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == [ids[0], ids[4], ids[3], ids[2], ids[1]]
    async with server.client() as client:
        conversation = (await chat(client, server, "m0"))["conversation_id"]
        for index in range(1, 4):
            await chat(client, server, f"m{index}", conversation)
        url = f"/api/conversations/{conversation}/messages"
        newest = (await client.get(url, params={"limit": 3}, headers=server.headers())).json()
        older = (
            await client.get(
                url, params={"limit": 3, "before": newest["next_cursor"]}, headers=server.headers()
            )
        ).json()
        rest = (
            await client.get(
                url, params={"limit": 3, "before": older["next_cursor"]}, headers=server.headers()
            )
        ).json()
    contents = [m["content"] for page in (rest, older, newest) for m in page["items"]]
    assert [c for c in contents if c.startswith("m")] == ["m0", "m1", "m2", "m3"]
    assert len(contents) == 8 and rest["next_cursor"] is None


async def test_tokens_are_required_and_users_only_see_their_own(server):
    async with server.client() as client:
        missing = await client.get("/api/conversations")
        forged = await client.get(
            "/api/conversations", headers={"Authorization": "Bearer " + issue_token("other-secret", "alice")}
        )
        expired = await client.get(
            "/api/conversations",
            headers={
                "Authorization": "Bearer " + issue_token(server.settings.secret, "alice", ttl_s=1, now=0)
            },
        )
        chat_missing = await client.post("/api/chat", json={"message": "hi"})
    for response in (missing, forged, expired, chat_missing):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
    assert "Authorization" in missing.json()["error"]["message"]
    assert "expired" in expired.json()["error"]["message"]
    async with server.client() as client:
        mine = await chat(client, server, "private", user="alice")
        url = f"/api/conversations/{mine['conversation_id']}/messages"
        read = await client.get(url, headers=server.headers("mallory"))
        write = await client.post(
            "/api/chat",
            json={"message": "let me in", "conversation_id": mine["conversation_id"]},
            headers=server.headers("mallory"),
        )
        listing = (await client.get("/api/conversations", headers=server.headers("mallory"))).json()
        own = (await client.get(url, headers=server.headers("alice"))).json()
    assert read.status_code == 404 and write.status_code == 404
    assert listing["items"] == []
    assert len(own["items"]) == 2


BAD_BODIES = [
    (b"{not json", 400, "invalid_json"),
    (b"", 400, "invalid_json"),
    (b"[1, 2]", 422, "invalid_request"),
    (b"{}", 422, "invalid_request"),
    (b'{"message": 42}', 422, "invalid_request"),
    (b'{"message": null}', 422, "invalid_request"),
    (b'{"message": "   "}', 422, "invalid_request"),
    (b'{"message": "hi", "conversation_id": 7}', 422, "invalid_request"),
    (b'{"message": "hi", "conversation_id": "nope"}', 404, "not_found"),
    (b'{"message": "hi", "conversation_id": "' + b"x" * 500 + b'"}', 404, "not_found"),
]


async def test_bad_chat_bodies_are_clear_4xx_and_write_nothing(server):
    async with server.client() as client:
        for body, status, code in BAD_BODIES:
            response = await client.post(
                "/api/chat", content=body, headers=server.headers(**{"Content-Type": "application/json"})
            )
            assert response.status_code == status, (body, response.text)
            error = response.json()["error"]
            assert error["code"] == code and error["message"]
        too_big = await client.post(
            "/api/chat",
            json={"message": "x" * (server.settings.max_body_bytes + 10)},
            headers=server.headers(),
        )
        assert too_big.status_code == 413
        listing = (await client.get("/api/conversations", headers=server.headers())).json()
    assert listing["items"] == []
    assert server.upstream.calls == []


async def test_bad_limits_cursors_routes_and_methods_are_clear_json_errors(server):
    async with server.client() as client:
        conversation = (await chat(client, server, "hello"))["conversation_id"]
        url = f"/api/conversations/{conversation}/messages"
        cases = [
            ("/api/conversations", {"limit": "51"}, "invalid_parameter"),
            ("/api/conversations", {"limit": "0"}, "invalid_parameter"),
            ("/api/conversations", {"limit": "ten"}, "invalid_parameter"),
            ("/api/conversations", {"cursor": "garbage"}, "invalid_cursor"),
            (url, {"limit": "51"}, "invalid_parameter"),
            (url, {"limit": "-3"}, "invalid_parameter"),
            (url, {"before": "garbage"}, "invalid_cursor"),
            (url, {"before": "Z" * 2000}, "invalid_cursor"),
        ]
        for path, params, code in cases:
            response = await client.get(path, params=params, headers=server.headers())
            assert response.status_code == 400, (path, params, response.text)
            assert response.json()["error"]["code"] == code
        fifty = await client.get(url, params={"limit": "50"}, headers=server.headers())
        assert fifty.status_code == 200
        unknown = await client.get("/api/conversations/nope/messages", headers=server.headers())
        assert unknown.status_code == 404
        missing = await client.get("/api/nothing-here")
        wrong_method = await client.get("/api/chat")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
