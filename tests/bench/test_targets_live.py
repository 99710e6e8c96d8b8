"""Target profiles against real small backends: every response mode, and clear pre-flight errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatopt.errors import ChatoptError
from chatopt.targets import Target, check_target, load_target, send_chat
from tests.bench.servers import WORDS, serve
from tests.services import free_port


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    with serve() as url:
        yield url


def _profile(tmp_path: Path, text: str) -> str:
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    return str(path)


async def test_openai_sse_streams_every_chunk_with_its_own_time(backend: str) -> None:
    target = load_target("openai", url=backend + "/v1", model="m")
    async with httpx.AsyncClient() as client:
        exchange = await send_chat(target, client, "hi")
    assert exchange.ok, exchange.error
    assert exchange.mode == "sse"
    assert exchange.answer == "".join(WORDS)
    assert exchange.chunk_texts == WORDS  # the empty role-only chunk is not content
    assert len(exchange.itl_s) == len(WORDS) - 1
    assert exchange.chunk_times == sorted(exchange.chunk_times)
    assert exchange.chunk_times[0] < exchange.chunk_times[-1]  # arrived incrementally, not buffered
    assert exchange.output_tokens() == (len(WORDS), "usage")
    assert exchange.header("x-cache") == "miss"


async def test_custom_json_profile_with_auth_and_conversation_id(backend: str, tmp_path: Path) -> None:
    spec = _profile(
        tmp_path,
        "path: /custom\nmode: json\nbody: {prompt: '{message}', session: '{conversation_id}'}\n"
        "answer_path: data.reply\nconversation_id_path: session\n",
    )
    target = load_target(spec, url=backend, headers={"Authorization": "Bearer good"})
    async with httpx.AsyncClient() as client:
        exchange = await send_chat(target, client, "ola", conversation_id="c-9")
    assert exchange.ok, exchange.error
    assert exchange.answer == "You said: ola"
    assert exchange.conversation_id == "c-9"
    assert exchange.ttft_s == exchange.chunk_times[0] - exchange.started


async def test_ndjson_profile(backend: str, tmp_path: Path) -> None:
    spec = _profile(
        tmp_path,
        "path: /ndjson\nmode: auto\nbody: {q: '{message}'}\ndelta_path: token\n"
        "conversation_id_path: conversation\ndone_sentinel: null\n",
    )
    async with httpx.AsyncClient() as client:
        exchange = await send_chat(load_target(spec, url=backend), client, "hi")
    assert exchange.ok, exchange.error
    assert exchange.mode == "ndjson"
    assert exchange.chunk_texts == WORDS
    assert exchange.conversation_id == "nd-1"


async def test_websocket_profile(backend: str) -> None:
    target = load_target("reference-ws", url=backend)
    exchange = await send_chat(target, None, "hi", conversation_id="conv-7")
    assert exchange.ok, exchange.error
    assert exchange.mode == "websocket"
    assert exchange.chunk_texts == WORDS
    assert exchange.conversation_id == "conv-7"


async def test_preflight_unreachable_url_says_what_to_fix() -> None:
    target = load_target("openai", url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ChatoptError, match="cannot reach") as error:
        await check_target(target)
    assert "server running" in (error.value.hint or "")


async def test_preflight_tls_to_a_plain_http_server(backend: str) -> None:
    target = load_target("openai", url=backend.replace("http://", "https://") + "/v1")
    with pytest.raises(ChatoptError, match="TLS"):
        await check_target(target)


async def test_preflight_non_chat_page(backend: str, tmp_path: Path) -> None:
    target = load_target(_profile(tmp_path, "path: /html\nanswer_path: reply\n"), url=backend)
    with pytest.raises(ChatoptError, match="not JSON|not look like a chat"):
        await check_target(target)


async def test_preflight_malformed_sse(backend: str, tmp_path: Path) -> None:
    target = load_target(_profile(tmp_path, "path: /malformed\ndelta_path: text\n"), url=backend)
    with pytest.raises(ChatoptError, match="malformed sse"):
        await check_target(target)


async def test_preflight_profile_that_does_not_match_the_answers(backend: str, tmp_path: Path) -> None:
    spec = _profile(
        tmp_path,
        "path: /v1/chat/completions\nbody: {model: m, messages: '{messages}', stream: true}\n"
        "delta_path: text\n",
    )
    target = load_target(spec, url=backend)
    with pytest.raises(ChatoptError, match="no answer text") as error:
        await check_target(target)
    assert "delta_path" in (error.value.hint or "")


async def test_preflight_missing_credentials(backend: str, tmp_path: Path) -> None:
    spec = _profile(tmp_path, "path: /custom\nbody: {prompt: '{message}'}\nanswer_path: data.reply\n")
    with pytest.raises(ChatoptError, match="HTTP 401") as error:
        await check_target(load_target(spec, url=backend))
    assert "--header" in (error.value.hint or "")


async def test_every_request_is_bounded_by_the_timeout(tmp_path: Path) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts connections, never answers
    try:
        target = Target(url=f"http://127.0.0.1:{listener.getsockname()[1]}/", answer_path="a", timeout_s=0.5)
        with pytest.raises(ChatoptError, match="no complete answer within"):
            await check_target(target)
    finally:
        listener.close()
