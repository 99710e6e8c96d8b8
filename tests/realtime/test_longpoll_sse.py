"""Long polling and SSE: the same numbered events as the WebSocket, resumable from any seq."""

from __future__ import annotations

import json

import httpx

from reference_server.realtime import Failure, Realtime
from tests.realtime.harness import ScriptedRunner, realtime_settings, running, token_for

MESSAGES = "/api/realtime/messages"


def client_of(host: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://{host}")


def auth(settings, user: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(settings, user)}"}


async def poll_all(client: httpx.AsyncClient, stream_id: str, headers: dict,
                   after_seq: int = 0) -> list[dict]:
    events: list[dict] = []
    for _ in range(100):
        response = await client.get(f"/api/realtime/streams/{stream_id}/poll",
                                    params={"after_seq": after_seq, "wait_s": 5}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        events += body["events"]
        after_seq = body["after_seq"]
        if body["done"]:
            return events
    raise AssertionError("the stream never finished")


def parse_sse(text: str) -> list[tuple[str | None, str, dict]]:
    frames = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":") and ": " in line]
        fields = dict(line.split(": ", 1) for line in lines)
        if "data" in fields:
            frames.append((fields.get("id"), fields["event"], json.loads(fields["data"])))
    return frames


async def test_long_poll_delivers_the_whole_answer_in_order() -> None:
    settings = realtime_settings()
    runner = ScriptedRunner(chunks=6, delay_s=0.02)
    async with running(Realtime(settings, runner)) as host, client_of(host) as client:
        started = await client.post(MESSAGES, headers=auth(settings),
                                    json={"message": "hi", "client_msg_id": "p1", "conversation_id": "c-9"})
        assert started.status_code == 202
        body = started.json()
        assert body["duplicate"] is False and body["poll_url"].endswith("/poll")
        events = await poll_all(client, body["stream_id"], auth(settings))
        again = await client.post(MESSAGES, headers=auth(settings),
                                  json={"message": "hi", "client_msg_id": "p1"})
        tail = await client.get(f"/api/realtime/streams/{body['stream_id']}/poll",
                                params={"after_seq": 7, "wait_s": 0}, headers=auth(settings))
    assert [e["seq"] for e in events] == list(range(1, 8))
    assert [e["type"] for e in events] == ["token"] * 6 + ["final"]
    assert events[-1]["conversation_id"] == "c-9"
    assert again.status_code == 202 and again.json()["duplicate"]
    assert again.json()["stream_id"] == body["stream_id"]
    assert tail.json() == {"stream_id": body["stream_id"], "events": [], "done": True, "after_seq": 7}
    assert len(runner.requests) == 1


async def test_long_poll_refusals_say_what_to_fix() -> None:
    settings = realtime_settings(max_message_chars=10, max_body_bytes=2000, ws_messages_per_minute=1)
    async with running(Realtime(settings, ScriptedRunner())) as host, client_of(host) as client:
        no_token = await client.post(MESSAGES, json={"message": "hi"})
        not_json = await client.post(MESSAGES, headers=auth(settings), content=b"{nope")
        too_long = await client.post(MESSAGES, headers=auth(settings), json={"message": "x" * 11})
        too_big = await client.post(MESSAGES, headers=auth(settings), content=b"x" * 5000)
        first = await client.post(MESSAGES, headers=auth(settings), json={"message": "ok"})
        throttled = await client.post(MESSAGES, headers=auth(settings), json={"message": "ok"})
        stream_id = first.json()["stream_id"]
        bad_seq = await client.get(f"/api/realtime/streams/{stream_id}/poll", params={"after_seq": "x"},
                                   headers=auth(settings))
        bad_wait = await client.get(f"/api/realtime/streams/{stream_id}/poll", params={"wait_s": "99"},
                                    headers=auth(settings))
        other_user = await client.get(f"/api/realtime/streams/{stream_id}/poll",
                                      headers=auth(settings, "eve"))
        unknown = await client.get("/api/realtime/streams/nope/poll", headers=auth(settings))
    assert no_token.status_code == 401 and "Authorization" in no_token.json()["error"]["message"]
    assert not_json.status_code == 422 and "JSON" in not_json.json()["error"]["message"]
    assert too_long.status_code == 413 and "limit is 10" in too_long.json()["error"]["message"]
    assert too_big.status_code == 413 and "2000 bytes" in too_big.json()["error"]["message"]
    assert first.status_code == 202
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert throttled.json()["error"]["code"] == "rate_limited" and "RateLimit" in throttled.headers
    assert bad_seq.status_code == 422 and "after_seq" in bad_seq.json()["error"]["message"]
    assert bad_wait.status_code == 422 and "wait_s" in bad_wait.json()["error"]["message"]
    assert other_user.status_code == 404 and unknown.status_code == 404


async def test_sse_replays_with_ids_and_resumes_from_last_event_id() -> None:
    settings = realtime_settings()
    failure = Failure("upstream_failed", "the model failed", 2.0)
    runner = ScriptedRunner(chunks=5, delay_s=0.01, fail_with=failure)
    async with running(Realtime(settings, runner)) as host, client_of(host) as client:
        stream_id = (await client.post(MESSAGES, headers=auth(settings),
                                       json={"message": "hi"})).json()["stream_id"]
        full = await client.get(f"/api/realtime/streams/{stream_id}/events?token={token_for(settings)}")
        resumed = await client.get(f"/api/realtime/streams/{stream_id}/events",
                                   headers={**auth(settings), "Last-Event-ID": "4"})
    assert full.status_code == 200 and full.headers["content-type"].startswith("text/event-stream")
    frames = parse_sse(full.text)
    assert [f[0] for f in frames] == ["1", "2", "3", "4", "5", "6"]
    assert [f[1] for f in frames] == ["token"] * 5 + ["error"]
    assert frames[-1][2]["code"] == "upstream_failed" and frames[-1][2]["retry_after_s"] == 2.0
    assert [f[0] for f in parse_sse(resumed.text)] == ["5", "6"]


async def test_http_cancel_stops_the_answer_for_its_owner_only() -> None:
    settings = realtime_settings()
    runner = ScriptedRunner(chunks=500, delay_s=0.01)
    async with running(Realtime(settings, runner)) as host, client_of(host) as client:
        stream_id = (await client.post(MESSAGES, headers=auth(settings), json={"message": "long"})).json()[
            "stream_id"]
        cancel_url = f"/api/realtime/streams/{stream_id}/cancel"
        stranger = await client.post(cancel_url, headers=auth(settings, "eve"))
        cancelled = await client.post(cancel_url, headers=auth(settings))
        events = await poll_all(client, stream_id, auth(settings))
        again = await client.post(cancel_url, headers=auth(settings))
    assert stranger.status_code == 404
    assert cancelled.status_code == 202
    assert events[-1]["type"] == "error" and events[-1]["code"] == "cancelled" and runner.produced < 500
    assert again.status_code == 409 and "not being produced" in again.json()["error"]["message"]
