"""Monitoring end to end: metric names and buckets after traffic, trace ids in logs and upstream calls."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re

import pytest

from reference_server.observability.logs import JsonFormatter
from reference_server.observability.metrics import ServerMetrics
from reference_server.observability.otel import setup_tracing
from reference_server.observability.tracecontext import (
    TraceContext,
    continue_trace,
    current_trace,
    outgoing_headers,
    parse_traceparent,
)

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _samples(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name)]


async def test_metrics_have_genai_names_and_llm_sized_buckets_after_traffic(monitored_server):
    server = monitored_server(cache=True, cache_semantic=False)
    async with server.client() as client:
        for i in range(3):
            chat = await client.post(
                "/api/chat",
                json={"message": f"Tell me about item {i}"},
                headers=server.headers(Accept="text/event-stream"),
            )
            assert chat.status_code == 200
            # Hops finished before the first byte of the stream: the cache lookup and the LLM's first token.
            timing = chat.headers["server-timing"]
            assert "cache;dur=" in timing and "llm;dur=" in timing
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    ttft_buckets = _samples(text, "gen_ai_server_time_to_first_token_seconds_bucket")
    assert any('le="80.0"' in line for line in ttft_buckets)
    count = _samples(text, "gen_ai_server_time_to_first_token_seconds_count")
    assert count and float(count[0].split()[-1]) == 3
    assert any(
        'le="81.92"' in line for line in _samples(text, "gen_ai_client_operation_duration_seconds_bucket")
    )
    usage = _samples(text, "gen_ai_client_token_usage_count")
    assert any('gen_ai_token_type="input"' in line for line in usage)
    assert any('gen_ai_token_type="output"' in line for line in usage)
    assert any(
        'http_route="/api/chat"' in line and 'http_response_status_code="200"' in line
        for line in _samples(text, "http_server_request_duration_seconds_count")
    )
    assert 'chatopt_cache_lookups_total{layer="any",result="miss"} 3.0' in text
    decisions = _samples(text, "chatopt_route_decisions_total")
    assert sum(float(line.split()[-1]) for line in decisions) == 3
    assert any(float(line.split()[-1]) > 0 for line in _samples(text, "chatopt_llm_cost_usd_total"))
    for name in (
        "chatopt_event_loop_lag_seconds",
        "chatopt_circuit_breaker_state",
        "chatopt_inflight_requests",
        "chatopt_websocket_connections",
        "chatopt_websocket_dead_peers_dropped_total",
        "chatopt_load_shed_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "python_gc_collections_total",
    ):
        assert _samples(text, name), name


async def test_traceparent_is_continued_returned_and_sent_to_the_llm(monitored_server):
    server = monitored_server()
    async with server.client() as client:
        response = await client.post(
            "/api/chat", json={"message": "hello there"}, headers=server.headers(traceparent=INCOMING)
        )
        fresh = await client.post("/api/chat", json={"message": "another question"}, headers=server.headers())
    assert response.status_code == 200 and fresh.status_code == 200
    returned = parse_traceparent(response.headers["traceresponse"])
    assert returned is not None and returned.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert returned.span_id != "00f067aa0ba902b7"
    upstream_parents = [parse_traceparent(h.get("traceparent")) for h in server.capture.seen]
    assert upstream_parents[0] is not None
    assert upstream_parents[0].trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert upstream_parents[1] is not None and upstream_parents[1].trace_id != upstream_parents[0].trace_id
    timing = response.headers["server-timing"]
    assert "db;dur=" in timing and "llm;dur=" in timing and "total;dur=" in timing


async def test_logs_are_json_lines_with_the_request_trace_id(monitored_server):
    server = monitored_server()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("reference_server").addHandler(handler)
    try:
        async with server.client() as client:
            await client.post(
                "/api/chat", json={"message": "log me"}, headers=server.headers(traceparent=INCOMING)
            )
        # The access line is written just after the last byte left: give it a moment.
        for _ in range(100):
            entries = [json.loads(line) for line in buffer.getvalue().splitlines()]
            access = [
                e
                for e in entries
                if e["logger"] == "reference_server.access" and e["http_route"] == "/api/chat"
            ]
            if access:
                break
            await asyncio.sleep(0.02)
    finally:
        logging.getLogger("reference_server").removeHandler(handler)
    assert access and access[0]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert access[0]["http_status"] == 200 and re.fullmatch(r"[0-9a-f]{16}", access[0]["span_id"])


async def test_health_readiness_and_readiness_failure(monitored_server):
    server = monitored_server(redis_url="redis://127.0.0.1:1/0")
    async with server.client() as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert health.status_code == 200
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "ok" and checks["redis"] != "ok"


def test_invalid_traceparents_start_a_new_trace():
    for bad in (None, "", "garbage", "ff-" + INCOMING[3:], "00-" + "0" * 32 + "-00f067aa0ba902b7-01"):
        assert parse_traceparent(bad) is None
        assert re.fullmatch(r"[0-9a-f]{32}", continue_trace(bad).trace_id)
    assert outgoing_headers() == {}
    token = current_trace.set(TraceContext("a" * 32, "b" * 16))
    try:
        assert outgoing_headers() == {"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"}
    finally:
        current_trace.reset(token)


def test_llm_span_carries_genai_attributes_under_the_request_trace():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracing = setup_tracing(None, exporter=exporter)
    token = current_trace.set(TraceContext("c" * 32, "d" * 16))
    try:
        with tracing.llm_span("gpt-4o-mini") as span:
            sent = outgoing_headers()["traceparent"]
            span.finish(response_model="gpt-4o-mini-2024", input_tokens=12, output_tokens=34, ttft_s=0.2)
    finally:
        current_trace.reset(token)
    (recorded,) = exporter.get_finished_spans()
    assert recorded.name == "chat gpt-4o-mini"
    assert format(recorded.context.trace_id, "032x") == "c" * 32
    assert format(recorded.parent.span_id, "016x") == "d" * 16
    assert sent.split("-")[2] == format(recorded.context.span_id, "016x")
    attributes = dict(recorded.attributes)
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] == 12 and attributes["gen_ai.usage.output_tokens"] == 34
    assert attributes["gen_ai.operation.name"] == "chat"


def test_time_per_output_token_is_derived_from_ttft_and_duration():
    metrics = ServerMetrics()
    metrics.observe_llm_call("m", duration_s=2.0, ttft_s=0.5, input_tokens=10, output_tokens=31)
    text = metrics.render().decode()
    line = _samples(text, "gen_ai_server_time_per_output_token_seconds_sum")[0]
    assert abs(float(line.split()[-1]) - 0.05) < 1e-9


@pytest.mark.parametrize("accept", ["application/json", "text/event-stream"])
async def test_otlp_spans_cover_the_request_and_the_llm_call_in_the_callers_trace(monitored_server, accept):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    server = monitored_server()
    exporter = InMemorySpanExporter()
    tracing = setup_tracing(None, exporter=exporter)
    server.app.state.tracing = tracing
    server.app.state.services.llm.tracing = tracing
    async with server.client() as client:
        response = await client.post(
            "/api/chat",
            json={"message": "trace me"},
            headers=server.headers(traceparent=INCOMING, Accept=accept),
        )
    assert response.status_code == 200
    # The server span ends just after the last byte left, so the client can be a moment ahead.
    for _ in range(100):
        spans = {span.name: span for span in exporter.get_finished_spans()}
        if "POST /api/chat" in spans:
            break
        await asyncio.sleep(0.02)
    request_span = spans["POST /api/chat"]
    llm_span = next(span for name, span in spans.items() if name.startswith("chat "))
    assert format(request_span.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert format(request_span.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert llm_span.parent.span_id == request_span.context.span_id
    assert (
        llm_span.attributes["gen_ai.request.model"] and llm_span.attributes["gen_ai.usage.output_tokens"] > 0
    )
    sent = parse_traceparent(server.capture.seen[-1]["traceparent"])
    assert sent is not None and sent.span_id == format(llm_span.context.span_id, "016x")
