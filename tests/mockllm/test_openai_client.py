"""The mock LLM through the official openai client: sync and async, streamed and not."""

from __future__ import annotations

import base64
import json
import time

import httpx
import numpy as np
import openai
import pytest
from typer.testing import CliRunner

from chatopt import tokens as token_counter
from chatopt.cli import app

FAQ = [{"role": "user", "content": "How do I reset my password?"}]
CONVERSATION = [
    {"role": "system", "content": "You are a helpful support assistant for an online store."},
    {"role": "user", "content": "Olá! Meu pedido ainda não chegou."},
    {"role": "assistant", "content": "Sinto muito. Pode me passar o número do pedido?"},
    {"role": "user", "content": "É o 12345. Quando ele vai chegar?", "name": "maria"},
]


def sync_client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=20)


def async_client(base_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=20)


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4", "mock-large"])
@pytest.mark.parametrize("messages", [FAQ, CONVERSATION], ids=["faq", "conversation"])
def test_streamed_usage_equals_the_token_counter(mock_llm, model: str, messages: list[dict]) -> None:
    client = sync_client(mock_llm.base_url)
    stream = client.chat.completions.create(
        model=model, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    content: list[str] = []
    chunks = list(stream)
    for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            content.append(chunk.choices[0].delta.content)
    final = chunks[-1]
    assert final.choices == []
    assert final.usage is not None
    assert final.usage.prompt_tokens == token_counter.count_messages(messages, model=model)
    text = "".join(content)
    encoding = token_counter.encoding_for_model(model).encoding
    assert final.usage.completion_tokens == len(token_counter.encode(text, encoding=encoding))
    assert final.usage.total_tokens == final.usage.prompt_tokens + final.usage.completion_tokens
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_one_token_per_event_by_default(mock_llm) -> None:
    client = sync_client(mock_llm.base_url)
    stream = client.chat.completions.create(model="gpt-4o", messages=FAQ, stream=True)
    deltas = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(deltas) > 20
    assert all(len(token_counter.encode(delta)) == 1 for delta in deltas)


def test_non_streamed_answer_matches_the_streamed_one(mock_llm) -> None:
    client = sync_client(mock_llm.base_url)
    whole = client.chat.completions.create(model="gpt-4o", messages=CONVERSATION)
    stream = client.chat.completions.create(model="gpt-4o", messages=CONVERSATION, stream=True)
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert whole.choices[0].message.content == streamed
    assert whole.choices[0].message.role == "assistant"
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage.prompt_tokens == token_counter.count_messages(CONVERSATION, model="gpt-4o")
    assert whole.usage.completion_tokens == token_counter.count_text(streamed, model="gpt-4o")


async def test_async_client_streams_and_gets_usage(mock_llm) -> None:
    async with async_client(mock_llm.base_url) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=FAQ, stream=True, stream_options={"include_usage": True}
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            usage = chunk.usage or usage
        whole = await client.chat.completions.create(model="gpt-4o-mini", messages=FAQ)
    assert text == whole.choices[0].message.content
    assert usage is not None and usage.prompt_tokens == token_counter.count_messages(FAQ, model="gpt-4o-mini")
    assert usage.completion_tokens == whole.usage.completion_tokens


def test_max_tokens_cuts_the_answer_with_finish_reason_length(mock_llm) -> None:
    client = sync_client(mock_llm.base_url)
    whole = client.chat.completions.create(model="gpt-4o", messages=FAQ, max_tokens=7)
    assert whole.usage.completion_tokens == 7
    assert whole.choices[0].finish_reason == "length"
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=FAQ,
        max_completion_tokens=5,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert reasons == ["length"]
    assert chunks[-1].usage.completion_tokens == 5


def test_models_are_listed_and_retrievable(mock_llm) -> None:
    client = sync_client(mock_llm.base_url)
    names = [model.id for model in client.models.list().data]
    assert {"gpt-4o-mini", "gpt-4o", "mock-small", "mock-medium", "mock-large"} <= set(names)
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"


@pytest.mark.parametrize("encoding_format", ["float", "base64"])
def test_embeddings_are_384_dimensional_unit_norm_and_meaningful(mock_llm, encoding_format: str) -> None:
    client = sync_client(mock_llm.base_url)
    texts = [
        "How do I reset my password?",
        "What is the way to change my account password?",
        "The best season to plant tomatoes is late spring.",
    ]
    response = client.embeddings.create(
        model="text-embedding-3-small", input=texts, encoding_format=encoding_format
    )
    if encoding_format == "base64":  # asked for explicitly, the client hands the packed floats over as is
        packed = [base64.b64decode(item.embedding) for item in response.data]
        vectors = np.stack([np.frombuffer(raw, dtype="<f4") for raw in packed])
    else:
        vectors = np.array([item.embedding for item in response.data])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    expected_tokens = sum(token_counter.count_text(text, encoding="cl100k_base") for text in texts)
    assert response.usage.prompt_tokens == expected_tokens


async def test_async_embeddings_of_one_string(mock_llm) -> None:
    async with async_client(mock_llm.base_url) as client:
        response = await client.embeddings.create(model="text-embedding-3-small", input="olá mundo")
    assert len(response.data) == 1 and len(response.data[0].embedding) == 384


def test_a_client_that_hangs_up_ends_its_stream_on_the_server(start_mock_llm) -> None:
    slow = {
        "base_ms": 5,
        "prefill_ms_per_token": 0,
        "tokens_per_second": 10,
        "jitter_ms": 0,
        "token_jitter": 0,
    }
    mock = start_mock_llm({"tiers": {"medium": slow}})
    body = {"model": "gpt-4o", "messages": CONVERSATION, "stream": True}
    with httpx.stream("POST", f"{mock.base_url}/chat/completions", json=body, timeout=10) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        assert httpx.get(f"{mock.url}/health", timeout=5).json()["active_streams"] == 1
    deadline = time.monotonic() + 5
    while httpx.get(f"{mock.url}/health", timeout=5).json()["active_streams"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.get(f"{mock.url}/health", timeout=5).json()["active_streams"] == 0


def test_without_include_usage_no_chunk_carries_usage(mock_llm) -> None:
    stream = sync_client(mock_llm.base_url).chat.completions.create(model="gpt-4o", messages=FAQ, stream=True)
    chunks = list(stream)
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_final_usage_chunk_equals_chatopt_tokens_on_the_same_messages(mock_llm, tmp_path, model: str) -> None:
    path = tmp_path / "messages.json"
    path.write_text(json.dumps(CONVERSATION, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["tokens", "--chat", str(path), "--model", model, "--json"])
    assert result.exit_code == 0, result.output
    counted = json.loads(result.output)["tokens"]
    stream = sync_client(mock_llm.base_url).chat.completions.create(
        model=model, messages=CONVERSATION, stream=True, stream_options={"include_usage": True}
    )
    *_, final = stream
    assert final.usage.prompt_tokens == counted
