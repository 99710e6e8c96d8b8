"""Optional OpenTelemetry tracing: OTLP export of request and LLM spans with GenAI attributes.

Installed with ``pip install 'chatopt[otel]'`` and enabled by ``otlp_endpoint``; without
the packages or the setting every function here is a cheap no-op. Spans join the W3C
trace the request came with, so the APM a team already runs (Datadog, New Relic, Sentry,
Grafana Tempo) shows the LLM call inside the caller's trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reference_server.observability.tracecontext import TraceContext, current_trace


class LlmSpan:
    """What the LLM wrapper reports onto its span (no-op when tracing is off)."""

    def __init__(self, span: Any | None) -> None:
        self.span = span

    def finish(self, *, response_model: str | None, input_tokens: int | None, output_tokens: int | None,
               ttft_s: float | None = None) -> None:
        if self.span is None:
            return
        attributes = {
            "gen_ai.response.model": response_model,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.server.time_to_first_token": ttft_s,
        }
        for key, value in attributes.items():
            if value is not None:
                self.span.set_attribute(key, value)

    def fail(self, exc: BaseException) -> None:
        if self.span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        self.span.set_attribute("error.type", type(exc).__name__)
        self.span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))


class Tracing:
    """A tracer exporting to OTLP, or a no-op when ``tracer`` is None."""

    def __init__(
        self, tracer: Any | None = None, provider_name: str = "openai", shutdown: Any = None
    ) -> None:
        self.tracer = tracer
        self.provider_name = provider_name
        self._shutdown = shutdown

    @property
    def enabled(self) -> bool:
        return self.tracer is not None

    @contextmanager
    def span(self, name: str, kind: str, attributes: dict[str, Any]) -> Iterator[Any | None]:
        """A span under the current trace context; inside the block it *is* the current context."""
        if self.tracer is None:
            yield None
            return
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

        parent = current_trace.get()
        context = None
        if parent is not None:
            remote = SpanContext(int(parent.trace_id, 16), int(parent.span_id, 16), is_remote=True,
                                 trace_flags=TraceFlags(1 if parent.sampled else 0))
            context = trace.set_span_in_context(NonRecordingSpan(remote))
        with self.tracer.start_as_current_span(name, context=context, kind=getattr(SpanKind, kind),
                                               attributes=attributes, record_exception=True) as span:
            span_context = span.get_span_context()
            token = current_trace.set(TraceContext(format(span_context.trace_id, "032x"),
                                                   format(span_context.span_id, "016x"),
                                                   parent.sampled if parent else True))
            try:
                yield span
            finally:
                current_trace.reset(token)

    @contextmanager
    def llm_span(self, model: str, operation: str = "chat") -> Iterator[LlmSpan]:
        """A CLIENT span ``"chat {model}"`` under the request's trace; outgoing calls name it as parent."""
        attributes = {"gen_ai.operation.name": operation, "gen_ai.provider.name": self.provider_name,
                      "gen_ai.request.model": model}
        with self.span(f"{operation} {model}", "CLIENT", attributes) as span:
            yield LlmSpan(span)

    def shutdown(self) -> None:
        """Flush and stop the exporter."""
        if self._shutdown is not None:
            self._shutdown()


def setup_tracing(endpoint: str | None, service_name: str = "chatopt-reference-server",
                  exporter: Any | None = None, provider_name: str = "openai") -> Tracing:
    """OTLP/HTTP tracing to ``endpoint`` (or to ``exporter``, e.g. an in-memory one in tests).

    Returns a no-op ``Tracing`` when neither is given or the OpenTelemetry SDK is not installed.
    """
    if endpoint is None and exporter is None:
        return Tracing()
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        return Tracing()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            return Tracing()
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return Tracing(provider.get_tracer("reference_server"), provider_name, provider.shutdown)
