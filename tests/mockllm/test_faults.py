"""Injected faults, by header and by configured rate, as the openai client sees them."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from chatopt import tokens as token_counter
from chatopt.mockllm import MockConfig

QUESTION = [{"role": "user", "content": "Where is my order?"}]


def client_for(base_url: str, timeout: float = 20) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=timeout)


def ask(base_url: str, fault: str, **options):
    return client_for(base_url).chat.completions.create(
        model="gpt-4o-mini", messages=QUESTION, extra_headers={"X-Mock-Fault": fault}, **options
    )


@pytest.mark.parametrize(("fault", "status"), [("error", 503), ("error=500", 500), ("error=503", 503)])
def test_server_errors_are_openai_shaped(mock_llm, fault: str, status: int) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        ask(mock_llm.base_url, fault)
    assert caught.value.status_code == status
    assert caught.value.body["type"] == "server_error"


def test_rate_limit_says_when_to_retry(mock_llm) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        ask(mock_llm.base_url, "rate-limit=3")
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.body["code"] == "rate_limit_exceeded"


def test_the_client_retries_after_retry_after(mock_llm) -> None:
    # The first attempt is limited; the header is per request, so the client's retry also
    # carries it: every attempt fails and the client gives up after its retries.
    client = openai.OpenAI(base_url=mock_llm.base_url, api_key="unused", max_retries=1, timeout=20)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=QUESTION, extra_headers={"X-Mock-Fault": "rate-limit=0.3"}
        )
    assert time.monotonic() - started >= 0.3


def test_hang_times_the_client_out(mock_llm) -> None:
    with pytest.raises(openai.APITimeoutError):
        client_for(mock_llm.base_url, timeout=0.5).chat.completions.create(
            model="gpt-4o-mini", messages=QUESTION, extra_headers={"X-Mock-Fault": "hang=30"}
        )


def test_a_short_hang_ends_in_504(mock_llm) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        ask(mock_llm.base_url, "hang=0.2")
    assert caught.value.status_code == 504


def test_slow_first_token_delays_only_the_first_token(mock_llm) -> None:
    started = time.monotonic()
    stream = ask(mock_llm.base_url, "slow-first-token=400", stream=True)
    configured_ttft_ms = float(stream.response.headers["x-mock-ttft-ms"])
    first_at = None
    for chunk in stream:
        if first_at is None and chunk.choices and chunk.choices[0].delta.content:
            first_at = time.monotonic()
    assert first_at is not None
    assert first_at - started >= 0.4
    assert configured_ttft_ms == pytest.approx(405.0)  # the fast tier's 5 ms plus the injected 400 ms
    normal = ask(mock_llm.base_url, "none", stream=True)
    assert float(normal.response.headers["x-mock-ttft-ms"]) == pytest.approx(5.0)
    normal.close()


def test_cut_drops_the_stream_after_the_given_tokens(mock_llm) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in ask(mock_llm.base_url, "cut=4", stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert len(received) == 4


def test_cut_of_a_non_streamed_answer_is_an_incomplete_body(mock_llm) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.post(
            f"{mock_llm.base_url}/chat/completions",
            json={"model": "gpt-4o-mini", "messages": QUESTION},
            headers={"X-Mock-Fault": "cut"},
            timeout=10,
        )


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("empty", ""), ("refusal", "I'm sorry, but I can't help with that request."), ("short", "It depends.")],
)
def test_bad_answers(mock_llm, kind: str, expected: str) -> None:
    response = ask(mock_llm.base_url, f"bad-answer={kind}")
    assert response.choices[0].message.content == expected
    assert response.usage.completion_tokens == token_counter.count_text(expected, model="gpt-4o-mini")


def test_bad_answer_follows_the_question_language(mock_llm) -> None:
    response = client_for(mock_llm.base_url).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Você pode me ajudar com a minha conta?"}],
        extra_headers={"X-Mock-Fault": "bad-answer=refusal"},
    )
    assert response.choices[0].message.content.startswith("Desculpe")


def test_unknown_fault_is_a_clear_400(mock_llm) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(mock_llm.base_url, "explode")
    assert "unknown fault 'explode'" in caught.value.body["message"]


def test_configured_error_rate_hits_about_that_share(start_mock_llm) -> None:
    mock = start_mock_llm(MockConfig.fast(seed=3, faults={"error_rate": 0.5, "error_status": 500}))
    statuses = []
    with httpx.Client(timeout=10) as client:
        for _ in range(60):
            response = client.post(
                f"{mock.base_url}/chat/completions", json={"model": "gpt-4o-mini", "messages": QUESTION}
            )
            statuses.append(response.status_code)
    assert set(statuses) == {200, 500}
    assert 15 <= statuses.count(500) <= 45


def test_header_none_overrides_configured_faults(start_mock_llm) -> None:
    mock = start_mock_llm(MockConfig.fast(faults={"error_rate": 1.0}))
    with pytest.raises(openai.InternalServerError):
        client_for(mock.base_url).chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    assert ask(mock.base_url, "none").choices[0].finish_reason == "stop"


def test_embeddings_get_errors_and_rate_limits_too(mock_llm) -> None:
    client = client_for(mock_llm.base_url)
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="m", input="hi", extra_headers={"X-Mock-Fault": "error=500"})
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="m", input="hi", extra_headers={"X-Mock-Fault": "rate-limit=1"})
    assert len(client.embeddings.create(model="m", input="hi").data[0].embedding) == 384


def test_model_faults_apply_to_their_models_only(start_mock_llm) -> None:
    mock = start_mock_llm(
        MockConfig.fast(
            faults={"error_status": 500},
            model_faults={
                "gpt-4o-mini": {"bad_answer_rate": 1.0, "bad_answer_kind": "short"},
                "*-4": {"error_rate": 1},
            },
        )
    )
    client = client_for(mock.base_url)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION).choices[
        0
    ].message.content == ("It depends.")
    assert (
        len(client.chat.completions.create(model="gpt-4o", messages=QUESTION).choices[0].message.content)
        > 100
    )
    with pytest.raises(openai.InternalServerError):  # the pattern's entry keeps the global error_status
        client.chat.completions.create(model="gpt-4", messages=QUESTION)
