"""The reference server with the ``websocket`` switch: realtime answers from the real chat pipeline."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
import websockets

from reference_server.app import create_app
from reference_server.realtime.install import GC_THRESHOLDS
from reference_server.settings import settings_for_profile
from tests.realtime.harness import recv, recv_stream, send, serving, token_for, ws_url
from tests.realtime.test_longpoll_sse import MESSAGES, auth, poll_all


def settings_for(mock_llm, tmp_path: Path, **overrides):
    return settings_for_profile(
        "optimized", llm_base_url=mock_llm.base_url, database_url=f"sqlite+aiosqlite:///{tmp_path}/chat.db",
        secret="realtime-test-secret", cache=False, **overrides,
    )


async def test_websocket_answer_comes_from_the_pipeline_and_is_stored(mock_llm, tmp_path: Path) -> None:
    settings = settings_for(mock_llm, tmp_path)
    thresholds = gc.get_threshold()
    async with serving(create_app(settings)) as host:
        assert gc.get_threshold() == GC_THRESHOLDS and gc.get_freeze_count() > 0
        async with websockets.connect(ws_url(host, settings)) as ws:
            await send(ws, "message", message="Explain what a WebSocket heartbeat is for.", client_msg_id="a")
            started = await recv(ws)
            frames = await recv_stream(ws)
            async with httpx.AsyncClient(base_url=f"http://{host}") as client:
                metrics = await client.get("/metrics")
        final = frames[-1]
        assert started["type"] == "started"
        assert final["type"] == "final", final
        tokens = [f for f in frames if f["type"] == "token"]
        assert tokens and final["reply"] == "".join(f["text"] for f in tokens)
        assert final["usage"]["total_tokens"] > 0 and final["model"]
        async with httpx.AsyncClient(base_url=f"http://{host}") as client:
            stored = await client.get(f"/api/conversations/{final['conversation_id']}/messages",
                                      headers=auth(settings))
    assert stored.status_code == 200
    assert stored.json()["items"][-1]["content"] == final["reply"]
    assert "chatopt_websocket_connections 1.0" in metrics.text
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0, "collector settings not restored"


async def test_long_polling_and_refusals_go_through_the_same_pipeline(mock_llm, tmp_path: Path) -> None:
    settings = settings_for(mock_llm, tmp_path, max_message_chars=50)
    async with serving(create_app(settings)) as host, httpx.AsyncClient(base_url=f"http://{host}") as client:
        question = {"message": "What is long polling?"}
        started = await client.post(MESSAGES, headers=auth(settings), json=question)
        events = await poll_all(client, started.json()["stream_id"], auth(settings))
        too_long = await client.post(MESSAGES, headers=auth(settings), json={"message": "x" * 51})
        async with websockets.connect(f"ws://{host}/ws?token={token_for(settings, 'bob')}") as ws:
            await send(ws, "message", message="a" * 30)
            await recv(ws)
            refused = await recv_stream(ws)
    assert events[-1]["type"] == "final" and events[-1]["reply"]
    assert too_long.status_code == 413
    assert refused[-1]["type"] == "error" and refused[-1]["code"] == "spam_detected"
    assert "same character" in refused[-1]["message"]


async def test_baseline_has_no_realtime_routes(mock_llm, tmp_path: Path) -> None:
    settings = settings_for_profile("baseline", llm_base_url=mock_llm.base_url,
                                    database_url=f"sqlite+aiosqlite:///{tmp_path}/chat.db")
    async with serving(create_app(settings)) as host, httpx.AsyncClient(base_url=f"http://{host}") as client:
        response = await client.post(MESSAGES, headers=auth(settings), json={"message": "hi"})
    assert response.status_code == 404
