"""The tap forwards byte for byte, streams as it goes, records each AI call, injects faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from chatopt import tokens
from chatopt.tap import Fault, TapServer, read_trace
from tests.services import free_port
from tests.tap.helpers import answer_for, fake_openai_app, serve


@pytest.fixture
def upstream() -> Iterator[str]:
    with serve(fake_openai_app()) as url:
        yield url + "/v1"


@pytest.fixture
def tap(upstream: str, tmp_path: Path) -> Iterator[TapServer]:
    with TapServer(upstream, free_port(), trace_path=tmp_path / "trace.jsonl") as server:
        yield server


def _client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0, timeout=10)


MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is a vector index?"},
]


def test_openai_client_sees_identical_streams_direct_and_through_the_tap(
    upstream: str, tap: TapServer
) -> None:
    results = []
    for base in (upstream, tap.base_url):
        client = _client(base)
        with client.chat.completions.with_streaming_response.create(
            model="small", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        ) as response:
            raw = b"".join(response.iter_bytes())
        chunks = [
            chunk.model_dump()
            for chunk in client.chat.completions.create(
                model="small", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        ]
        completion = client.chat.completions.create(model="small", messages=MESSAGES).model_dump()
        results.append((raw, chunks, completion))
    direct, tapped = results
    assert direct[0] == tapped[0] and direct[0].startswith(b"data: ")
    assert direct[1] == tapped[1] and len(direct[1]) > 5
    assert direct[2] == tapped[2]


def test_compressed_bodies_pass_through_undecoded(upstream: str, tap: TapServer) -> None:
    request = {"model": "small", "messages": MESSAGES}
    headers = {"x-test-gzip": "1", "accept-encoding": "gzip"}
    with httpx.Client() as client:
        direct = client.post(upstream + "/chat/completions", json=request, headers=headers)
        tapped = client.post(tap.base_url + "/chat/completions", json=request, headers=headers)
    assert tapped.headers["content-encoding"] == "gzip"
    assert tapped.content == direct.content  # httpx decoded both the same way
    tap.proxy.wait_settled()
    call = tap.proxy.calls[-1]
    assert call.completion_tokens == tokens.count_text(answer_for(MESSAGES), model="small")


def test_each_call_is_recorded_with_exact_tokens_and_timing(tap: TapServer, tmp_path: Path) -> None:
    client = _client(tap.base_url)
    list(client.chat.completions.create(model="small", messages=MESSAGES, stream=True))
    client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert tap.proxy.wait_settled()
    chat, embedding = tap.proxy.calls
    assert chat.kind == "chat" and chat.stream is True and chat.status == 200
    assert chat.model == "small" and chat.message_count == 2
    assert chat.prompt_tokens == tokens.count_messages(MESSAGES, model="small")
    assert chat.completion_tokens == tokens.count_text(answer_for(MESSAGES), model="small")
    assert chat.ttft_ms is not None and 0 < chat.ttft_ms <= chat.duration_ms
    assert chat.chunks > 1
    assert embedding.kind == "embeddings" and embedding.message_count == 2
    assert [c.id for c in read_trace(tmp_path / "trace.jsonl")] == [chat.id, embedding.id]


def _conversation(client: openai.OpenAI, turns: int, window: int | None) -> None:
    history: list[dict] = []
    for turn in range(turns):
        history.append({"role": "user", "content": f"question number {turn} about caching"})
        sent = history if window is None else history[-window:]
        answer = client.chat.completions.create(model="small", messages=sent).choices[0].message.content
        history.append({"role": "assistant", "content": answer})


def test_full_history_is_detected_and_a_window_is_not_taken_for_it(tap: TapServer) -> None:
    client = _client(tap.base_url)
    _conversation(client, 4, window=None)
    assert tap.proxy.wait_settled()
    full = tap.proxy.calls
    assert [c.turn for c in full] == [1, 2, 3, 4]
    assert len({c.conversation for c in full}) == 1
    assert [c.full_history for c in full] == [False, True, True, True]
    assert [c.history_messages for c in full] == [0, 2, 4, 6]
    assert full[3].prompt_tokens > full[1].prompt_tokens

    _conversation(client, 4, window=3)
    assert tap.proxy.wait_settled()
    windowed = tap.proxy.calls[4:]
    assert [c.turn for c in windowed] == [1, 2, 3, 4]
    assert windowed[1].full_history is True  # turn 2 still fits in the window
    assert windowed[3].full_history is False
    assert windowed[3].history_messages == 2


def test_injected_faults_replace_or_delay_the_upstream_answer(tap: TapServer) -> None:
    tap.proxy.faults.arm(Fault(status=503, count=2))
    request = {"model": "small", "messages": MESSAGES}
    with httpx.Client(timeout=10) as client:
        first = client.post(tap.base_url + "/chat/completions", json=request)
        second = client.post(tap.base_url + "/chat/completions", json=request)
        third = client.post(tap.base_url + "/chat/completions", json=request)
        tap.proxy.faults.arm(Fault(delay_s=0.3))
        with pytest.raises(httpx.ReadTimeout):
            client.post(tap.base_url + "/chat/completions", json=request, timeout=0.1)
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert "injected by chatopt tap" in first.json()["error"]["message"]
    assert tap.proxy.wait_settled()
    assert [c.fault for c in tap.proxy.calls[:3]] == ["status 503", "status 503", None]


def test_an_unreachable_upstream_is_a_502_with_a_reason(tmp_path: Path) -> None:
    with TapServer(f"http://127.0.0.1:{free_port()}/v1", free_port()) as server, httpx.Client() as client:
        response = client.post(
            server.base_url + "/chat/completions", json={"model": "m", "messages": MESSAGES}
        )
        assert response.status_code == 502
        assert json.loads(response.content)["error"]["type"] == "tap_upstream_error"
        assert server.proxy.wait_settled()
        assert server.proxy.calls[0].error.startswith("ConnectError")


def test_streams_are_forwarded_chunk_by_chunk_not_buffered(tmp_path: Path) -> None:
    with (
        serve(fake_openai_app(chunk_delay_s=0.05)) as upstream,
        TapServer(upstream + "/v1", free_port()) as tap,
    ):
        client = _client(tap.base_url)
        arrivals = []
        started = time.perf_counter()
        for chunk in client.chat.completions.create(model="small", messages=MESSAGES, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.perf_counter() - started)
    # The upstream spaces its words 50 ms apart; a buffering proxy would deliver them all at the end.
    assert len(arrivals) > 5
    assert arrivals[-1] - arrivals[0] > 0.5 * arrivals[-1]


def test_a_backend_hanging_up_stops_the_upstream_stream(tmp_path: Path) -> None:
    with (
        serve(fake_openai_app(chunk_delay_s=0.2)) as upstream,
        TapServer(upstream + "/v1", free_port()) as tap,
    ):
        body = {"model": "small", "messages": MESSAGES, "stream": True}
        with (
            httpx.Client(timeout=10) as client,
            client.stream("POST", tap.base_url + "/chat/completions", json=body) as response,
        ):
            next(response.iter_raw())  # the first event, then hang up mid-answer
        assert tap.proxy.wait_settled(10)
        [call] = tap.proxy.calls
    assert call.error == "the backend closed the connection before the answer ended"
    assert call.completion_tokens < tokens.count_text(answer_for(MESSAGES), model="small")
