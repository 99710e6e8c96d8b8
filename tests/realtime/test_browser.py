"""The chat page in headless Chromium: WebSocket first, SSE then long polling when blocked, resume."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_server.app import create_app
from reference_server.settings import settings_for_profile
from tests import services
from tests.realtime.harness import serving, token_for

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SLOW_TIERS = {name: {"base_ms": 20, "prefill_ms_per_token": 0, "tokens_per_second": 40}
              for name in ("small", "medium", "large")}
ANSWER_DONE = "document.querySelector('.message.assistant .meta') !== null"
ANSWER_STARTED = "(document.querySelector('.message.assistant span')?.textContent || '').length > 0"


def blocking(app: Any, websocket: bool, sse: bool) -> Any:
    """``app`` behind a "proxy" that refuses WebSocket upgrades and/or breaks SSE."""

    async def proxy(scope, receive, send) -> None:
        if scope["type"] == "websocket" and websocket:
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] == "http" and sse and scope["path"].endswith("/events"):
            await send({"type": "http.response.start", "status": 502, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return proxy


async def stored_reply(host: str, token: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://{host}", headers=headers) as client:
        conversation = (await client.get("/api/conversations")).json()["items"][0]["id"]
        messages = (await client.get(f"/api/conversations/{conversation}/messages")).json()["items"]
    return messages[-1]["content"]


async def ask(page: Any, host: str, token: str, question: str) -> None:
    await page.goto(f"http://{host}/")
    await page.fill("#token", token)
    await page.dispatch_event("#token", "change")
    await page.fill("#input", question)
    await page.press("#input", "Enter")


@pytest.fixture
async def browser():
    services.require(CHROMIUM is not None, "chromium (apt-get install chromium)")
    async_playwright = pytest.importorskip("playwright.async_api").async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield instance
        finally:
            await instance.close()


def settings_for(llm, tmp_path: Path):
    return settings_for_profile("optimized", llm_base_url=llm.base_url, cache=False, secret="browser-secret",
                                database_url=f"sqlite+aiosqlite:///{tmp_path}/chat.db")


async def test_page_streams_over_websocket_and_resumes_after_the_server_drops_it(
        browser, start_mock_llm, tmp_path: Path) -> None:
    settings = settings_for(start_mock_llm({"tiers": SLOW_TIERS}), tmp_path)
    app = create_app(settings)
    token = token_for(settings)
    async with serving(app) as host:
        page = await browser.new_page()
        sockets: list = []
        page.on("websocket", lambda socket: sockets.append(socket))
        await ask(page, host, token, "Write a long explanation of how WebSocket reconnects work.")
        await page.wait_for_function(ANSWER_STARTED, timeout=15000)
        assert app.state.realtime.registry.close_all(1012, "test restart") == 1
        await page.wait_for_function(ANSWER_DONE, timeout=30000)
        shown = await page.inner_text(".message.assistant span")
        reply = await stored_reply(host, token)
    assert len(sockets) >= 2, "the page did not reconnect"
    assert shown == reply, "text was lost or repeated across the reconnect"
    assert await page.inner_text("#status") == ""


@pytest.mark.parametrize(
    ("websocket", "sse", "max_connections", "used"),
    [(True, False, 10, "/events"), (True, True, 10, "/poll"), (False, False, 0, "/events")],
    ids=["upgrade-blocked", "upgrade-and-sse-blocked", "instance-full-1013"],
)
async def test_page_falls_back_to_sse_then_long_polling(browser, mock_llm, tmp_path: Path, websocket: bool,
                                                        sse: bool, max_connections: int, used: str) -> None:
    settings = settings_for(mock_llm, tmp_path).with_overrides({"ws_max_connections": max_connections})
    token = token_for(settings)
    async with serving(blocking(create_app(settings), websocket, sse)) as host:
        page = await browser.new_page()
        paths: list[str] = []
        page.on("request", lambda request: paths.append(request.url))
        await ask(page, host, token, "What is long polling?")
        await page.wait_for_function(ANSWER_DONE, timeout=30000)
        shown = await page.inner_text(".message.assistant span")
        reply = await stored_reply(host, token)
    assert shown == reply
    assert any(path.split("?")[0].endswith(used) for path in paths), paths
    assert not any(path.endswith("/api/chat") for path in paths), "fell back to the baseline API"


async def test_baseline_page_uses_the_plain_chat_api_and_reconnect_delays_are_capped(
        browser, mock_llm, tmp_path: Path) -> None:
    settings = settings_for_profile("baseline", llm_base_url=mock_llm.base_url, secret="browser-secret",
                                    database_url=f"sqlite+aiosqlite:///{tmp_path}/chat.db")
    token = token_for(settings)
    async with serving(create_app(settings)) as host:
        page = await browser.new_page()
        paths: list[str] = []
        page.on("request", lambda request: paths.append(request.url))
        await ask(page, host, token, "Hello there")
        await page.wait_for_function(ANSWER_DONE, timeout=30000)
        shown = await page.inner_text(".message.assistant span")
        reply = await stored_reply(host, token)
        delays = await page.evaluate(
            "[...Array(8).keys()].map((a) => [...Array(200)].map(() => ChatTransport.backoffMs(a)))"
        )
    assert shown == reply
    assert any(path.endswith("/api/chat") for path in paths)

    # Reconnect delays: 1, 2, 4, 8, 16, 30, 30 ... seconds, each plus up to 30 % jitter.
    for attempt, samples in enumerate(delays):
        base = min(30, 2**attempt) * 1000
        assert all(base <= ms <= base * 1.3 for ms in samples), attempt
        assert max(samples) - min(samples) > base * 0.1, "no jitter"
