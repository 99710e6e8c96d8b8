"""P1: coalescing of upstream tokens, SSE rendering, and client disconnects cancelling the upstream."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from reference_server.chat.coalesce import coalesce
from reference_server.llm.client import Delta, StreamEnd


async def scripted(pieces: list[str], gaps_s: list[float]):
    for piece, gap in zip(pieces, gaps_s, strict=True):
        await asyncio.sleep(gap)
        yield Delta(piece)
    yield StreamEnd(model="m", usage=None)


async def collect(stream) -> list[str | StreamEnd]:
    return [item async for item in stream]


async def test_first_token_alone_then_chunks_of_the_token_limit():
    pieces = [f"t{index} " for index in range(23)]
    out = await collect(coalesce(scripted(pieces, [0.0] * 23), max_tokens=5, max_wait_s=10.0))
    texts, end = out[:-1], out[-1]
    assert isinstance(end, StreamEnd)
    assert texts[0] == "t0 "
    assert "".join(texts) == "".join(pieces)
    # after the first token, every chunk but the last holds exactly max_tokens tokens
    sizes = [text.count("t") for text in texts[1:]]
    assert sizes[:-1] == [5] * (len(sizes) - 1) and 1 <= sizes[-1] <= 5


async def test_a_silent_upstream_does_not_hold_back_buffered_tokens():
    # two quick tokens after the first, then a long pause: the buffered pair must come out
    # before the next token arrives (time-based flush), not together with it
    pieces = ["a", "b", "c", "d"]
    stream = coalesce(scripted(pieces, [0.0, 0.0, 0.0, 0.6]), max_tokens=50, max_wait_s=0.02)
    out = await collect(stream)
    assert out[:3] == ["a", "bc", "d"]


async def test_closing_the_coalescer_closes_the_upstream():
    closed = asyncio.Event()

    async def endless():
        try:
            while True:
                await asyncio.sleep(0.005)
                yield Delta("x")
        finally:
            closed.set()

    stream = coalesce(endless(), max_tokens=3, max_wait_s=0.05)
    assert await anext(stream) == "x"
    await stream.aclose()
    await asyncio.wait_for(closed.wait(), 2)


def parse_sse(raw: str) -> list[tuple[str, dict]]:
    events = []
    for frame in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_sse_tokens_add_up_to_the_final_reply(start_server):
    server = start_server("optimized", stream_chunk_tokens=4)
    server.upstream.script.answer_words = 30
    async with server.client() as client:
        response = await client.post(
            "/api/chat", json={"message": "stream please"}, headers=server.headers(Accept="text/event-stream")
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[-1] == "final" and set(names[:-1]) == {"token"} and len(names) > 3
    final = events[-1][1]
    assert "".join(data["text"] for name, data in events[:-1]) == final["reply"]
    assert (
        final["usage"]["total_tokens"]
        == final["usage"]["prompt_tokens"] + final["usage"]["completion_tokens"]
    )
    assert server.upstream.calls[-1].stream and server.upstream.calls[-1].include_usage


async def test_baseline_answers_json_even_when_the_client_asks_for_a_stream(start_server):
    server = start_server("baseline")
    async with server.client() as client:
        response = await client.post(
            "/api/chat", json={"message": "hi"}, headers=server.headers(Accept="text/event-stream")
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["reply"]
    assert not server.upstream.calls[-1].stream


async def test_a_refusal_before_any_token_is_a_plain_json_error(start_server):
    server = start_server("optimized")
    async with server.client() as client:
        response = await client.post(
            "/api/chat",
            json={"message": "hi", "conversation_id": "does-not-exist"},
            headers=server.headers(Accept="text/event-stream"),
        )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def wait_until(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


async def test_client_disconnect_cancels_upstream_and_keeps_the_partial_answer(start_server):
    server = start_server("optimized", stream_chunk_tokens=1)
    upstream = server.upstream
    upstream.script.answer_words = 400
    upstream.script.token_delay_s = 0.01
    received = ""
    async with (
        server.client() as client,
        client.stream(
            "POST",
            "/api/chat",
            json={"message": "a long answer"},
            headers=server.headers(Accept="text/event-stream"),
        ) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                received += json.loads(line[6:])["text"]
                if received.count("word") >= 5:
                    break
    assert await wait_until(lambda: upstream.streams_cancelled == 1), "the upstream stream was not cancelled"
    assert upstream.streams_finished == 0
    sent_at_cancel = upstream.tokens_sent
    await asyncio.sleep(0.2)
    assert upstream.tokens_sent == sent_at_cancel, "the upstream kept generating after the cancel"
    assert sent_at_cancel < 400

    async with server.client() as client:

        async def stored() -> list[dict]:
            conversations = (await client.get("/api/conversations", headers=server.headers())).json()["items"]
            if not conversations:
                return []
            url = f"/api/conversations/{conversations[0]['id']}/messages"
            return (await client.get(url, headers=server.headers())).json()["items"]

        messages: list[dict] = []
        deadline = time.monotonic() + 10
        while len(messages) < 2 and time.monotonic() < deadline:
            messages = await stored()
            await asyncio.sleep(0.05)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    partial = messages[1]
    assert partial["complete"] is False
    assert partial["content"].startswith(received)
    assert partial["content"].count("word") < 400


@pytest.mark.parametrize("profile", ["baseline", "optimized"])
async def test_upstream_failure_is_a_502_and_nothing_is_written(start_server, profile):
    server = start_server(profile)
    server.upstream.script.fail_status = 500
    async with server.client() as client:
        for accept in ("application/json", "text/event-stream"):
            response = await client.post(
                "/api/chat", json={"message": "hi"}, headers=server.headers(Accept=accept)
            )
            assert response.status_code == 502, response.text
            assert response.json()["error"]["code"] == "upstream_error"
        listing = await client.get("/api/conversations", headers=server.headers())
    assert listing.json()["items"] == []
