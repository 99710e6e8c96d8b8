"""Bad requests get OpenAI-shaped errors with the right status and a message that says what to fix."""

from __future__ import annotations

import httpx
import pytest

from chatopt.mockllm import MockConfig


def post(base_url: str, path: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{base_url}{path}", timeout=10, **kwargs)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_unparsable_json_is_400(mock_llm) -> None:
    response = post(mock_llm.base_url, "/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert "could not parse the JSON body" in error_of(response)["message"]


def test_a_body_that_is_not_an_object_is_400(mock_llm) -> None:
    response = post(mock_llm.base_url, "/chat/completions", json=["model", "messages"])
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "gpt-4o"}, "messages"),
        ({"model": "gpt-4o", "messages": []}, "messages"),
        ({"model": "gpt-4o", "messages": [{"content": "no role"}]}, "messages.[0].role"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": 5}]}, "messages.[0].content"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}, "stream"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "n": 3}, "n"),
        (
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream_options": {}},
            "stream_options",
        ),
    ],
)
def test_invalid_chat_fields_are_422_naming_the_field(mock_llm, body: dict, param: str) -> None:
    response = post(mock_llm.base_url, "/chat/completions", json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "text-embedding-3-small"}, "input"),
        ({"model": "text-embedding-3-small", "input": [1.5]}, "input.[0]"),
        ({"model": "text-embedding-3-small", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"model": "text-embedding-3-small", "input": "x", "dimensions": 1536}, "dimensions"),
    ],
)
def test_invalid_embedding_fields_are_422(mock_llm, body: dict, param: str) -> None:
    response = post(mock_llm.base_url, "/embeddings", json=body)
    assert response.status_code == 422
    assert error_of(response)["param"] == param


def test_token_id_inputs_are_embedded_like_their_text(mock_llm) -> None:
    from chatopt import tokens as token_counter

    ids = token_counter.encode("hello world", encoding="cl100k_base")
    by_ids = post(mock_llm.base_url, "/embeddings", json={"model": "m", "input": ids}).json()
    by_text = post(mock_llm.base_url, "/embeddings", json={"model": "m", "input": "hello world"}).json()
    assert by_ids["data"][0]["embedding"] == pytest.approx(by_text["data"][0]["embedding"], abs=1e-5)
    assert by_ids["usage"]["prompt_tokens"] == len(ids)


def test_unknown_path_is_404_and_wrong_method_is_405(mock_llm) -> None:
    missing = post(mock_llm.base_url, "/completions", json={})
    assert missing.status_code == 404
    assert "/v1/chat/completions" in error_of(missing)["message"]
    wrong = httpx.get(f"{mock_llm.base_url}/chat/completions", timeout=10)
    assert wrong.status_code == 405


def test_unknown_model_is_404_when_no_default_tier(start_mock_llm) -> None:
    mock = start_mock_llm(MockConfig.fast(default_tier=None))
    body = {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}
    response = post(mock.base_url, "/chat/completions", json=body)
    assert response.status_code == 404
    assert error_of(response)["code"] == "model_not_found"
    assert httpx.get(f"{mock.base_url}/models/no-such-model", timeout=10).status_code == 404
    assert post(mock.base_url, "/chat/completions", json={**body, "model": "gpt-4o"}).status_code == 200


def test_response_headers_tell_the_configured_ttft_and_cost(mock_llm) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    response = post(mock_llm.base_url, "/chat/completions", json=body)
    usage = response.json()["usage"]
    assert float(response.headers["x-mock-ttft-ms"]) == pytest.approx(5.0)
    expected_cost = (usage["prompt_tokens"] * 2.5 + usage["completion_tokens"] * 10.0) / 1e6
    assert float(response.headers["x-mock-cost-usd"]) == pytest.approx(expected_cost, abs=1e-8)


def test_long_history_costs_prefill_time_and_is_counted_exactly(start_mock_llm) -> None:
    from chatopt import tokens as token_counter

    mock = start_mock_llm(
        {
            "tiers": {
                "medium": {
                    "base_ms": 1,
                    "prefill_ms_per_token": 0.01,
                    "tokens_per_second": 5000,
                    "jitter_ms": 0,
                }
            }
        }
    )
    history = []
    for turn in range(200):
        history.append(
            {"role": "user", "content": f"Question {turn}: how do refunds work for order {turn}?" * 8}
        )
        history.append(
            {"role": "assistant", "content": f"Answer {turn}: refunds take five business days. " * 8}
        )
    messages = [*history, {"role": "user", "content": "Summarize our conversation."}]
    response = post(mock.base_url, "/chat/completions", json={"model": "gpt-4o", "messages": messages})
    assert response.status_code == 200
    prompt_tokens = token_counter.count_messages(messages, model="gpt-4o")
    assert len(response.request.content) > 64 * 1024  # large enough to be prepared off the event loop
    assert response.json()["usage"]["prompt_tokens"] == prompt_tokens
    assert float(response.headers["x-mock-ttft-ms"]) == pytest.approx(1 + 0.01 * prompt_tokens, abs=0.01)
