"""The observability middleware: trace context, HTTP metrics, ``Server-Timing`` and an access log.

For each HTTP request it continues the caller's W3C trace (or starts one), exposes it to
logs and the LLM client through context variables, answers with ``traceresponse`` and
``Server-Timing`` headers, and records ``http_server_request_duration_seconds`` under the
route template (``/api/conversations/{id}``) so label cardinality stays bounded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_server.observability.metrics import ServerMetrics
from reference_server.observability.otel import Tracing
from reference_server.observability.timing import ServerTimings, current_timings
from reference_server.observability.tracecontext import (
    TraceContext,
    continue_trace,
    current_trace,
    new_trace,
    parse_traceparent,
)

access_log = logging.getLogger("reference_server.access")
UNMATCHED_ROUTE = "unmatched"


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class ObservabilityMiddleware:
    """ASGI middleware; ``metrics`` may be None to trace and log without exporting metrics."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: ServerMetrics | None = None,
        access_logs: bool = True,
        tracing: Callable[[], Tracing | None] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_logs = access_logs
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"traceparent")
        incoming = raw.decode("latin-1") if raw else None
        tracing = self.tracing() if self.tracing is not None else None
        if tracing is not None and tracing.enabled:
            parent_token = current_trace.set(parse_traceparent(incoming))
            try:
                with tracing.span(scope.get("method", "WS"), "SERVER", {"url.path": scope["path"]}) as span:
                    await self._observe(scope, receive, send, current_trace.get() or new_trace(), span)
            finally:
                current_trace.reset(parent_token)
            return
        await self._observe(scope, receive, send, continue_trace(incoming), None)

    async def _observe(
        self, scope: Scope, receive: Receive, send: Send, trace: TraceContext, span: Any
    ) -> None:
        timings = ServerTimings()
        trace_token = current_trace.set(trace)
        timing_token = current_timings.set(timings)
        started = time.perf_counter()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [
                    (b"server-timing", timings.header(time.perf_counter() - started).encode()),
                    (b"traceresponse", trace.traceparent.encode()),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if self.metrics is not None and scope["type"] == "http":
            self.metrics.inflight.inc()
        try:
            await self.app(scope, receive, observed_send)
        finally:
            elapsed = time.perf_counter() - started
            if span is not None:
                route = _route_template(scope)
                span.update_name(f"{scope.get('method', 'WS')} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
            if scope["type"] == "http":
                route = _route_template(scope)
                if self.metrics is not None:
                    self.metrics.inflight.dec()
                    self.metrics.http_duration.labels(scope["method"], route, str(status)).observe(elapsed)
                if self.access_logs:
                    access_log.info(
                        "%s %s -> %s in %.1f ms", scope["method"], scope["path"], status, elapsed * 1000,
                        extra={
                            "http_method": scope["method"], "http_route": route, "http_status": status,
                            "duration_ms": round(elapsed * 1000, 2), "server_timing": timings.durations_ms,
                        },
                    )
            current_timings.reset(timing_token)
            current_trace.reset(trace_token)
