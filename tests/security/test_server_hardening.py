"""Phase 2 through HTTP: limits across two instances on the real Redis, refusals that say why."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.services import free_port


@pytest.mark.services
async def test_two_instances_with_one_redis_admit_exactly_the_user_limit(monitored_server, redis_url):
    limit = 25
    first = monitored_server(redis_url=redis_url, rate_free_per_hour=limit)
    second = monitored_server(redis_url=redis_url, rate_free_per_hour=limit)
    user = f"user-{uuid.uuid4().hex[:8]}"
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(i: int) -> httpx.Response:
            server = (first, second)[i % 2]
            return await client.post(
                f"{server.url}/api/chat", json={"message": f"question {i}"}, headers=server.headers(user)
            )

        responses = await asyncio.gather(*(one(i) for i in range(200)))
        degraded = [
            line
            for server in (first, second)
            for line in (await client.get(f"{server.url}/metrics")).text.splitlines()
            if line.startswith("chatopt_redis_failures_total")
        ]
    statuses = [r.status_code for r in responses]
    assert not degraded, f"Redis looked unreachable under load, limits fell back to per instance: {degraded}"
    assert statuses.count(200) == limit and statuses.count(429) == 200 - limit, sorted(set(statuses))
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["RateLimit-Policy"].startswith(f'"free";q={limit};w=3600')
    assert refused.headers["RateLimit"].startswith('"free";r=0;')
    assert f"{limit} messages per hour for the free tier" in refused.json()["error"]["message"]


@pytest.mark.services
async def test_premium_tier_and_ip_limits_apply(monitored_server, redis_url):
    server = monitored_server(
        redis_url=redis_url, rate_free_per_hour=2, rate_premium_per_hour=4, rate_ip_per_hour=1000
    )
    premium_user = f"p-{uuid.uuid4().hex[:8]}"
    async with server.client() as client:
        premium = [
            await client.post(
                "/api/chat", json={"message": f"q{i}"}, headers=server.headers(premium_user, tier="premium")
            )
            for i in range(6)
        ]
    assert [r.status_code for r in premium] == [200] * 4 + [429] * 2
    assert premium[0].headers["RateLimit"].startswith('"premium";r=3;')  # quota visible before it runs out
    assert premium[3].headers["RateLimit"].startswith('"premium";r=0;')
    assert "Retry-After" not in premium[3].headers
    ip_server = monitored_server(redis_url=redis_url, rate_free_per_hour=100, rate_ip_per_hour=3)
    async with ip_server.client() as client:
        by_ip = [
            await client.post(
                "/api/chat", json={"message": f"q{i}"}, headers=ip_server.headers(f"u-{uuid.uuid4().hex[:8]}")
            )
            for i in range(5)
        ]
    # Five users behind one address: the IP window decides.
    assert [r.status_code for r in by_ip] == [200, 200, 200, 429, 429]
    assert "this address" in by_ip[-1].json()["error"]["message"]


@pytest.mark.parametrize(("fail_open", "status"), [(True, 200), (False, 503)])
async def test_redis_unreachable_follows_the_configured_choice(monitored_server, fail_open, status):
    server = monitored_server(redis_url=f"redis://127.0.0.1:{free_port()}/0", rate_fail_open=fail_open)
    async with server.client() as client:
        response = await client.post(
            "/api/chat", json={"message": "is anyone there?"}, headers=server.headers()
        )
        metrics = await client.get("/metrics")
    assert response.status_code == status, response.text
    if not fail_open:
        assert response.json()["error"]["code"] == "rate_limiter_unavailable"
        assert int(response.headers["Retry-After"]) >= 1
    assert 'chatopt_redis_failures_total{component="rate_limits"}' in metrics.text


async def test_refusals_say_why_and_stored_text_is_sanitized(monitored_server):
    server = monitored_server()
    async with server.client() as client:
        too_long = await client.post("/api/chat", json={"message": "x " * 1500}, headers=server.headers())
        spam = await client.post("/api/chat", json={"message": "buy " * 30}, headers=server.headers())
        rude = await client.post("/api/chat", json={"message": "que porra é essa"}, headers=server.headers())
        body = await client.post("/api/chat", content=b"{" + b" " * 70_000 + b"}", headers=server.headers())
        ok = await client.post(
            "/api/chat",
            json={"message": "Hi <script>alert(1)</script><b>there</b> 1 < 2"},
            headers=server.headers(),
        )
        conversation = ok.json()["conversation_id"]
        history = await client.get(f"/api/conversations/{conversation}/messages", headers=server.headers())
        metrics = await client.get("/metrics")
    assert too_long.status_code == 413 and "limit is 2,000" in too_long.json()["error"]["message"]
    assert spam.status_code == 422 and "repeats the word 'buy'" in spam.json()["error"]["message"]
    assert rude.status_code == 422 and "Portuguese block list" in rude.json()["error"]["message"]
    assert body.status_code == 413 and "65,536 bytes" in body.json()["error"]["message"]
    stored = history.json()["items"][0]["content"]
    assert "<script" not in stored and "alert(1)" not in stored and "<b>there</b>" in stored
    assert server.upstream.calls and all("porra" not in str(c.messages) for c in server.upstream.calls)
    assert 'chatopt_input_rejections_total{reason="spam_detected"} 1.0' in metrics.text


async def test_optional_llm_spam_classifier_refuses_what_the_small_model_calls_spam(monitored_server):
    server = monitored_server(spam_llm_classifier=True)
    answer = server.upstream.answer_for

    def classify_or_answer(messages):
        if "screen messages" in str(messages[0].get("content", "")):
            return "spam" if "crypto" in str(messages[-1]["content"]) else "ok"
        return answer(messages)

    server.upstream.answer_for = classify_or_answer
    async with server.client() as client:
        spam = await client.post(
            "/api/chat", json={"message": "Earn crypto fast, DM me"}, headers=server.headers()
        )
        fine = await client.post(
            "/api/chat", json={"message": "Where is my invoice?"}, headers=server.headers()
        )
    assert spam.status_code == 422 and "spam classifier" in spam.json()["error"]["message"]
    assert fine.status_code == 200 and fine.json()["reply"].startswith("Answer to")
    classifier_calls = [
        c for c in server.upstream.calls if "screen messages" in str(c.messages[0]["content"])
    ]
    assert len(classifier_calls) == 2 and all(
        c.model == server.settings.model_small for c in classifier_calls
    )


async def test_spam_classifier_fails_open():
    from reference_server.security.spam_classifier import LlmSpamClassifier

    class Down:
        async def complete(self, messages, model, max_tokens=None):
            raise ConnectionError("upstream down")

    assert await LlmSpamClassifier(Down(), "small").is_spam("anything") is False
