"""P4: exact token counts, budget, exchanges and summary of the window; the baseline's full history."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from chatopt import tokens
from reference_server.context.complexity import is_complex
from reference_server.context.window import SUMMARY_PREFIX, WindowLimits, full_history, windowed
from reference_server.storage.base import Message

SYSTEM = "You are a helpful assistant."
START = datetime(2026, 1, 1, tzinfo=UTC)


def history(exchanges: int, words: int = 40) -> list[Message]:
    messages = []
    for index in range(exchanges):
        for offset, role in enumerate(("user", "assistant")):
            messages.append(
                Message(
                    id=f"{index}-{role}",
                    conversation_id="c",
                    role=role,
                    content=f"{role} turn {index}: " + " ".join(f"w{n}" for n in range(words)),
                    created_at=START + timedelta(seconds=2 * index + offset),
                )
            )
    return messages


def test_full_history_sends_everything_in_order():
    past = history(7)
    sent = full_history(SYSTEM, past, "now?")
    assert sent[0] == {"role": "system", "content": SYSTEM}
    assert [m["content"] for m in sent[1:-1]] == [m.content for m in past]
    assert sent[-1] == {"role": "user", "content": "now?"}


def test_window_keeps_the_last_exchanges_and_counts_exactly():
    past = history(10)
    plan = windowed(SYSTEM, None, past, "next question", WindowLimits(budget_tokens=100_000, max_exchanges=3))
    assert plan.prompt_tokens == tokens.count_messages(plan.messages)
    assert plan.history_messages == 6
    assert [m["content"] for m in plan.messages[1:-1]] == [m.content for m in past[-6:]]
    assert plan.messages[-1]["content"] == "next question"


def test_window_never_exceeds_the_budget_and_drops_whole_exchanges():
    past = history(10, words=200)
    full = windowed(SYSTEM, None, past, "q", WindowLimits(budget_tokens=100_000, max_exchanges=10))
    budget = full.prompt_tokens // 3
    plan = windowed(SYSTEM, None, past, "q", WindowLimits(budget_tokens=budget, max_exchanges=10))
    assert plan.prompt_tokens <= budget
    assert plan.prompt_tokens == tokens.count_messages(plan.messages)
    assert 0 < plan.history_messages < 20 and plan.history_messages % 2 == 0
    # one more exchange would not have fitted
    bigger = windowed(
        SYSTEM,
        None,
        past,
        "q",
        WindowLimits(budget_tokens=10**6, max_exchanges=plan.history_messages // 2 + 1),
    )
    assert bigger.prompt_tokens > budget


def test_summary_goes_between_system_and_recent_exchanges():
    plan = windowed(SYSTEM, "They discussed caching.", history(4), "q", WindowLimits(10_000, 1))
    assert plan.summary_used
    assert plan.messages[1] == {"role": "system", "content": SUMMARY_PREFIX + "They discussed caching."}
    assert plan.history_messages == 2


def test_exchanges_the_summary_covers_are_not_sent_again():
    past = history(6)
    limits = WindowLimits(budget_tokens=100_000, max_exchanges=3)
    # 3 newest messages uncovered: the last two exchanges hold them, the third is covered
    plan = windowed(SYSTEM, "summary", past, "q", limits, uncovered=3)
    assert [m["content"] for m in plan.messages[2:-1]] == [m.content for m in past[-4:]]
    # everything covered: the newest exchange is still sent (min_exchanges)
    plan = windowed(SYSTEM, "summary", past, "q", limits, uncovered=0)
    assert [m["content"] for m in plan.messages[2:-1]] == [m.content for m in past[-2:]]
    # a complex query keeps at least two exchanges even when covered
    complex_limits = WindowLimits(budget_tokens=100_000, max_exchanges=5, min_exchanges=2)
    plan = windowed(SYSTEM, "summary", past, "q", complex_limits, uncovered=0)
    assert plan.history_messages == 4


def test_query_and_system_are_sent_even_over_budget():
    plan = windowed(SYSTEM, None, history(3), "x " * 500, WindowLimits(budget_tokens=10, max_exchanges=3))
    assert plan.history_messages == 0
    assert [m["role"] for m in plan.messages] == ["system", "user"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("hi", False),
        ("What is the capital of France?", False),
        ("Compare the trade-offs of these two designs", True),
        ("Explain why this fails, step by step", True),
        ("```python\nprint(1)\n```", True),
        ("a" * 500, True),
    ],
)
def test_complexity_guess(query, expected):
    assert is_complex(query) is expected


async def wait_for_idle_jobs(client, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        jobs = (await client.get("/api/debug/loop-lag")).json()["jobs"]
        if jobs["done"] >= 1 and jobs["queued"] == 0 and jobs["running"] == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the background summary job did not finish")


async def chat(client, server, message, conversation_id=None):
    body = {"message": message} | ({"conversation_id": conversation_id} if conversation_id else {})
    response = await client.post("/api/chat", json=body, headers=server.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def test_optimized_sends_a_bounded_window_while_baseline_resends_everything(start_server):
    baseline = start_server("baseline")
    optimized = start_server("optimized", routing=False, cache=False)
    for server in (baseline, optimized):
        server.upstream.calls.clear()
        async with server.client() as client:
            conversation = None
            for turn in range(12):
                conversation = (await chat(client, server, f"question {turn}", conversation))[
                    "conversation_id"
                ]
        chat_calls = [call for call in server.upstream.calls if call.model == server.settings.default_model]
        sizes = [len(call.messages) for call in chat_calls]
        if server is baseline:
            assert sizes == [2 + 2 * turn for turn in range(12)]
        else:
            limit = 1 + 1 + 2 * optimized.settings.context_recent_exchanges + 1
            assert max(sizes) <= limit
            for call in chat_calls:
                assert tokens.count_messages(call.messages) <= optimized.settings.context_budget_tokens


async def test_summary_is_written_in_the_background_and_sent_on_later_turns(start_server):
    server = start_server("optimized", summary_every_messages=4, routing=False, cache=False)
    async with server.client() as client:
        conversation = None
        for turn in range(3):
            conversation = (await chat(client, server, f"fact number {turn}", conversation))[
                "conversation_id"
            ]
        summary_calls = [
            call for call in server.upstream.calls if call.model == server.settings.summary_model
        ]
        assert summary_calls, "no summary was requested after 6 messages"
        transcript = summary_calls[0].messages[-1]["content"]
        assert "fact number 0" in transcript and "fact number 1" in transcript
        await wait_for_idle_jobs(client)
        await chat(client, server, "what did I say?", conversation)
    last = server.upstream.calls[-1]
    assert last.model == server.settings.default_model
    summaries = [
        m for m in last.messages if m["role"] == "system" and m["content"].startswith(SUMMARY_PREFIX)
    ]
    assert len(summaries) == 1
    async with server.client() as client:
        written = (await client.get("/api/debug/loop-lag")).json()["summaries"]
    assert written["written"] >= 1 and written["prompt_tokens"] > 0 and written["completion_tokens"] > 0
