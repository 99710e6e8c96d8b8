"""The cache and routing inside the running reference server: headers, streamed hits, parity, feedback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reference_server.app import create_app
from reference_server.auth import issue_token
from reference_server.cache.chat_cache import SYNC_INTERVAL_S
from reference_server.settings import settings_for_profile
from tests.reference_server.upstream import ServerThread
from tests.routing.faulty_mock import FaultyMock

SECRET = "cache-server-test-secret"
QUESTION = "How can I cancel my subscription?"
PARAPHRASE = "I want to cancel my subscription"


@pytest.fixture(scope="module")
def mock() -> Iterator[FaultyMock]:
    server = FaultyMock()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start(mock: FaultyMock, tmp_path: Path):
    threads: list[ServerThread] = []

    def run(**switches) -> str:
        settings = settings_for_profile(
            "baseline", llm_base_url=mock.base_url, secret=SECRET, streaming=True,
            database_url=f"sqlite+aiosqlite:///{tmp_path}/chat-{len(threads)}.db", **switches,
        )
        thread = ServerThread(create_app(settings))
        thread.start()
        threads.append(thread)
        return thread.url

    mock.injector.requests.clear()
    mock.injector.faults.clear()
    yield run
    for thread in threads:
        thread.stop()


def auth(user: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, user)}"}


async def ask(url: str, message: str, user: str = "alice") -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        return await client.post("/api/chat", json={"message": message}, headers=auth(user))


async def ask_streaming(url: str, message: str) -> tuple[httpx.Headers, list[tuple[str, dict]]]:
    events: list[tuple[str, dict]] = []
    headers = {**auth(), "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(base_url=url, timeout=20) as client,
        client.stream("POST", "/api/chat", json={"message": message}, headers=headers) as response,
    ):
        assert response.status_code == 200
        name = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
        return response.headers, events


async def test_exact_and_semantic_hits_skip_the_model_and_say_so(start, mock):
    url = start(cache=True, routing=True)
    first = await ask(url, QUESTION)
    assert first.status_code == 200
    assert first.headers["x-cache"] == "miss"
    assert first.headers["x-route"] == "small; reason=short-faq"
    again = await ask(url, "  how can i cancel my subscription ")
    similar = await ask(url, PARAPHRASE)
    assert again.headers["x-cache"] == "hit-exact"
    assert similar.headers["x-cache"] == "hit-semantic"
    assert again.json()["reply"] == similar.json()["reply"] == first.json()["reply"]
    assert mock.injector.requests == ["small"]


async def test_a_hit_streams_in_the_same_events_as_a_live_answer(start):
    url = start(cache=True)
    live_headers, live = await ask_streaming(url, QUESTION)
    hit_headers, hit = await ask_streaming(url, QUESTION)
    assert (live_headers["x-cache"], hit_headers["x-cache"]) == ("miss", "hit-exact")
    for events in (live, hit):
        names = [name for name, _ in events]
        assert names[-1] == "final" and set(names[:-1]) == {"token"} and len(names) > 2
    assert "".join(p["text"] for n, p in hit if n == "token") == hit[-1][1]["reply"] == live[-1][1]["reply"]
    assert set(hit[-1][1]) == set(live[-1][1])


async def test_cache_off_gives_the_same_answers_and_contract(start):
    with_cache, without_cache = start(cache=True), start(cache=False)
    await ask(with_cache, QUESTION)
    cached = await ask(with_cache, QUESTION)
    plain = await ask(without_cache, QUESTION)
    assert cached.headers["x-cache"] == "hit-exact" and "x-cache" not in plain.headers
    assert cached.json()["reply"] == plain.json()["reply"]
    assert set(cached.json()) == set(plain.json())


async def test_users_of_one_tenant_share_but_user_scope_isolates(start):
    url = start(cache=True, cache_scope="user")
    await ask(url, QUESTION, user="alice")
    assert (await ask(url, QUESTION, user="bob")).headers["x-cache"] == "miss"
    assert (await ask(url, QUESTION, user="alice")).headers["x-cache"] == "hit-exact"


async def test_weak_light_answer_is_escalated_inside_the_server(start, mock):
    url = start(routing=True)
    mock.injector.faults["small"] = "bad-answer=refusal"
    response = await ask(url, QUESTION)
    assert response.status_code == 200
    assert response.json()["model"] == "medium"
    assert not response.json()["reply"].startswith("I'm sorry")
    assert mock.injector.requests == ["small", "medium"]


async def test_negative_feedback_evicts_the_answer(start, mock):
    url = start(cache=True)
    first = (await ask(url, QUESTION)).json()
    served = await ask(url, PARAPHRASE)
    assert served.headers["x-cache"] == "hit-semantic"
    body = {"conversation_id": served.json()["conversation_id"], "message_id": served.json()["message_id"],
            "rating": "down"}
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        verdict = await client.post("/api/feedback", json=body, headers=auth())
        assert verdict.status_code == 200 and verdict.json()["cache_entries_removed"] == 1
        bad_rating = {**body, "rating": "meh"}
        assert (await client.post("/api/feedback", json=bad_rating, headers=auth())).status_code == 422
        missing = {**body, "message_id": "nope"}
        assert (await client.post("/api/feedback", json=missing, headers=auth())).status_code == 404
        other_user = await client.post("/api/feedback", json=body, headers=auth("mallory"))
        assert other_user.status_code == 404
        assert (await client.post("/api/feedback", json=body)).status_code == 401
    assert first["reply"]
    assert (await ask(url, QUESTION)).headers["x-cache"] == "miss"


@pytest.mark.services
async def test_two_servers_share_the_cache_through_redis(start, mock, private_redis):
    first = start(cache=True, redis_url=private_redis.url)
    second = start(cache=True, redis_url=private_redis.url)
    await ask(first, QUESTION)
    await asyncio.sleep(SYNC_INTERVAL_S + 0.1)  # the second instance re-reads the change log this often
    assert (await ask(second, PARAPHRASE)).headers["x-cache"] == "hit-semantic"
    assert mock.injector.requests == ["large"]


@pytest.mark.services
async def test_chat_keeps_working_when_the_cache_redis_dies(start, mock, private_redis):
    url = start(cache=True, redis_url=private_redis.url)
    assert (await ask(url, QUESTION)).headers["x-cache"] == "miss"
    assert (await ask(url, QUESTION)).headers["x-cache"] == "hit-exact"
    private_redis.stop()
    degraded = await ask(url, QUESTION)
    assert degraded.status_code == 200 and degraded.json()["reply"]
    assert degraded.headers["x-cache"] == "miss"
