"""Pure parts of target profiles: SSE/NDJSON decoding, JSON paths, body templates, loading."""

from __future__ import annotations

import json

import pytest

from chatopt.errors import ChatoptError
from chatopt.targets import (
    ChatExchange,
    ExchangeRecorder,
    NDJSONDecoder,
    SSEDecoder,
    build_request,
    get_path,
    load_target,
    parse_header,
    render_body,
    resolve_url,
)


def test_sse_decoder_handles_events_split_anywhere() -> None:
    stream = b'event: token\r\ndata: {"a":\r\ndata: 1}\r\n\r\n: comment\n\ndata: second\n\ndata: [DONE]\n\n'
    for cut in range(1, len(stream)):
        decoder = SSEDecoder()
        events = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) + decoder.close()
        assert [(e.event, e.data) for e in events] == [
            ("token", '{"a":\n1}'),
            ("message", "second"),
            ("message", "[DONE]"),
        ], cut


def test_sse_decoder_flushes_an_unterminated_last_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: tail") == []
    assert [e.data for e in decoder.close()] == ["tail"]


def test_ndjson_decoder_splits_lines_across_reads() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"t": 1}\n{"t"') == ['{"t": 1}']
    assert decoder.feed(b": 2}\n\n") == ['{"t": 2}']
    assert decoder.feed(b'{"t": 3}') == []
    assert decoder.close() == ['{"t": 3}']


def test_get_path_walks_objects_and_lists() -> None:
    data = {"choices": [{"delta": {"content": "hi"}}], "usage": None}
    assert get_path(data, "choices.0.delta.content") == "hi"
    assert get_path(data, "choices.-1.delta.content") == "hi"
    assert get_path(data, "choices.3.delta") is None
    assert get_path(data, "usage.total") is None
    assert get_path("text", "a") is None


def test_render_body_keeps_lists_and_none_for_whole_placeholders() -> None:
    template = {
        "q": "{message}",
        "h": "{history}",
        "id": "{conversation_id}",
        "note": "user {user_id}: {message}",
    }
    body = render_body(
        template, {"message": "oi", "history": [{"role": "user"}], "conversation_id": None, "user_id": "u1"}
    )
    assert body == {"q": "oi", "h": [{"role": "user"}], "id": None, "note": "user u1: oi"}


def test_openai_request_sends_client_history_and_model() -> None:
    target = load_target("openai", url="http://h:1/v1", model="gpt-4o")
    assert target.url == "http://h:1/v1/chat/completions"
    history = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    request = build_request(target, "c", history=history)
    body = json.loads(request.body)
    assert body["model"] == "gpt-4o"
    assert body["messages"] == [*history, {"role": "user", "content": "c"}]
    assert body["stream"] is True


def test_reference_target_sends_conversation_id_not_history() -> None:
    target = load_target("reference", url="http://h:1")
    assert target.url == "http://h:1/api/chat"
    body = json.loads(build_request(target, "hi", conversation_id="c1", history=[{"role": "user"}]).body)
    assert body == {"message": "hi", "conversation_id": "c1"}


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("http://h/v1", "/v1/chat/completions", "http://h/v1/chat/completions"),
        ("http://h/", "/api/chat", "http://h/api/chat"),
        ("http://h/api/chat", "/api/chat", "http://h/api/chat"),
        ("http://h/custom/path", "", "http://h/custom/path"),
    ],
)
def test_resolve_url(base: str, path: str, expected: str) -> None:
    assert resolve_url(base, path) == expected


def test_yaml_profile_with_env_header(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CHAT_TOKEN", "s3cret")
    profile = tmp_path / "mine.yaml"
    profile.write_text(
        "url: http://h:9/chat\nmode: ndjson\nheaders: {Authorization: 'Bearer ${CHAT_TOKEN}'}\n"
        "body: {text: '{message}'}\ndelta_path: token\n"
    )
    target = load_target(str(profile))
    assert target.name == "mine"
    assert target.headers["Authorization"] == "Bearer s3cret"
    assert target.mode == "ndjson"


def test_bad_profiles_say_what_is_wrong(tmp_path) -> None:
    with pytest.raises(ChatoptError, match="unknown target"):
        load_target("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("url: http://h\nmode: carrier-pigeon\n")
    with pytest.raises(ChatoptError, match="mode"):
        load_target(str(bad))
    with pytest.raises(ChatoptError, match="must start with"):
        load_target("openai", url="ftp://h")
    with pytest.raises(ChatoptError, match="Name: value"):
        parse_header("no colon here")


def _recorder(target_name: str = "openai", mode: str = "sse") -> ExchangeRecorder:
    recorder = ExchangeRecorder(load_target(target_name, url="http://h"), ChatExchange(started=0.0))
    content_type = {"sse": "text/event-stream", "json": "application/json"}[mode]
    recorder.on_headers(200, {"Content-Type": content_type})
    return recorder


def test_recorder_times_only_non_empty_content_and_uses_usage() -> None:
    recorder = _recorder()
    recorder.on_bytes(0.1, b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n')
    recorder.on_bytes(0.3, b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n')
    recorder.on_bytes(0.5, b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n')
    recorder.on_bytes(0.6, b'data: {"choices":[],"usage":{"completion_tokens":2}}\n\ndata: [DONE]\n\n')
    exchange = recorder.finish(0.7)
    assert exchange.ok and exchange.answer == "Hello"
    assert exchange.ttft_s == pytest.approx(0.3)
    assert exchange.itl_s == [pytest.approx(0.2)]
    assert exchange.e2e_s == pytest.approx(0.6)  # ends at [DONE], not when the socket closed
    assert exchange.output_tokens() == (2, "usage")
    assert exchange.tpot_s() == pytest.approx((0.6 - 0.3) / 1)


def test_recorder_counts_tokens_when_usage_is_absent() -> None:
    recorder = _recorder()
    recorder.on_bytes(0.2, b'data: {"choices":[{"delta":{"content":"Hello world"}}]}\n\n')
    exchange = recorder.finish(0.3)
    tokens, source = exchange.output_tokens()
    assert source == "tiktoken" and tokens == 2


def test_recorder_flags_malformed_sse_and_profile_mismatch() -> None:
    recorder = _recorder()
    recorder.on_bytes(0.1, b"data: not json\n\n")
    assert recorder.finish(0.2).error_kind == "protocol"
    recorder = _recorder()
    recorder.on_bytes(0.1, b'data: {"text": "a reply in another shape"}\n\n')
    assert recorder.finish(0.2).error_kind == "no_content"
    recorder = _recorder(mode="json")
    recorder.on_bytes(0.1, b'{"error": {"message": "model overloaded"}}')
    exchange = recorder.finish(0.2)
    assert exchange.error_kind == "server" and "overloaded" in (exchange.error or "")
