"""Validation, sanitization, spam and profanity: every rejection says why; no false positives."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reference_server.security.profanity import ProfanityFilter
from reference_server.security.rejection import Rejection
from reference_server.security.sanitize import sanitize_html
from reference_server.security.spam import check_spam, spam_reason
from reference_server.security.validation import BodySizeLimitMiddleware, check_message


def test_message_limit_is_stated_in_the_rejection():
    assert check_message("  hello  ", 2000) == "hello"
    with pytest.raises(Rejection) as too_long:
        check_message("x" * 2001, 2000)
    assert too_long.value.status == 413
    assert "2,001" in too_long.value.message and "2,000" in too_long.value.message
    with pytest.raises(Rejection) as empty:
        check_message("   ", 2000)
    assert empty.value.status == 422 and empty.value.code == "empty_message"
    with pytest.raises(Rejection) as wrong_type:
        check_message(42, 2000)
    assert wrong_type.value.status == 422


async def _echo_length(request: Request) -> JSONResponse:
    return JSONResponse({"bytes": len(await request.body())})


def _capped_client(max_bytes: int) -> httpx.AsyncClient:
    routes = [Route("/echo", _echo_length, methods=["POST"])]
    app = BodySizeLimitMiddleware(Starlette(routes=routes), max_bytes)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_body_cap_refuses_declared_and_streamed_oversize_bodies():
    async with _capped_client(1000) as client:
        ok = await client.post("/echo", content=b"a" * 1000)
        declared = await client.post("/echo", content=b"a" * 1001)

        async def chunks():
            for _ in range(50):
                yield b"a" * 100

        streamed = await client.post("/echo", content=chunks())
    assert ok.status_code == 200 and ok.json() == {"bytes": 1000}
    for response in (declared, streamed):
        assert response.status_code == 413
        assert "1,000 bytes" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "dangerous",
    [
        "<script>alert(1)</script>hi",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">click</a>',
        "<iframe src=//evil></iframe>",
        '<svg onload=alert(1)><b onmouseover="x()">b</b></svg>',
    ],
)
def test_sanitizer_removes_script_vectors(dangerous):
    clean = sanitize_html(dangerous).lower()
    assert "<script" not in clean and "javascript:" not in clean and "onerror" not in clean
    assert "onload" not in clean and "onmouseover" not in clean and "<iframe" not in clean
    assert sanitize_html(clean) == clean


def test_sanitizer_keeps_plain_text_and_formatting():
    assert sanitize_html("Olá, ação! <b>ok</b>") == "Olá, ação! <b>ok</b>"
    assert 'rel="noopener noreferrer"' in sanitize_html('<a href="https://x.org">x</a>')


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("buy " * 20, "repeats the word 'buy'"),
        ("a" * 40, "same character"),
        (" ".join(f"https://spam{i}.example" for i in range(8)), "8 links"),
        ("see https://a.io https://b.io https://c.io", "mostly links"),
        ("asdfgh qwrtpl zxcvbn mnbvcx lkjhgf poiuyt", "random keyboard input"),
        ("\n".join(["CLICK HERE NOW"] * 6), "same line"),
    ],
)
def test_spam_is_rejected_with_its_reason(text, why):
    with pytest.raises(Rejection) as rejected:
        check_spam(text)
    assert rejected.value.status == 422 and rejected.value.code == "spam_detected"
    assert why in rejected.value.message


@pytest.mark.parametrize(
    "text",
    [
        "How do I configure nginx for websockets with sticky sessions? See https://nginx.org/en/docs/",
        "Como faço para configurar o servidor com sessões persistentes e balanceamento de carga?",
        "def strcpy(dst, src): return memcpy(dst, src, strlen(src))",
        "Compare https://a.io and https://b.io for me, please, focusing on pricing and latency.",
        "The strengths and rhythms of Portuguese: ação, coração, pão, informação, não.",
    ],
)
def test_ordinary_messages_are_not_spam(text):
    assert spam_reason(text) is None


@pytest.mark.parametrize(
    ("text", "language", "masked"),
    [
        ("what the FUCK is this", "English", "f***"),
        ("this is $hit", "English", "s***"),
        ("Que porra é essa?", "Portuguese", "p****"),
        ("f0da-se o sistema", "Portuguese", "f***"),
        ("seu cuzão", "Portuguese", "c****"),
    ],
)
def test_profanity_is_blocked_in_english_and_portuguese(text, language, masked):
    with pytest.raises(Rejection) as rejected:
        ProfanityFilter().check(text)
    assert rejected.value.code == "profanity"
    assert f"{language} block list" in rejected.value.message and repr(masked) in rejected.value.message


@pytest.mark.parametrize(
    "text",
    [
        "Scunthorpe United won on Saturday",
        "shitake mushrooms in the risotto",
        "um argumento putativo no processo",
        "compramos pão cacete na padaria",
        "Preciso de ajuda com o meu computador, por favor.",
        "Assess the bass guitar's class",
    ],
)
def test_allow_list_and_whole_words_prevent_false_positives(text):
    assert ProfanityFilter().find(text) is None
