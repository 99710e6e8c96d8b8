"""Prometheus metrics of one app instance, GenAI metrics under their OpenTelemetry names.

OpenTelemetry ``gen_ai.server.time_to_first_token`` (unit s) is exported as
``gen_ai_server_time_to_first_token_seconds`` and so on; attributes become labels with
dots turned into underscores (``gen_ai.request.model`` -> ``gen_ai_request_model``).
Buckets follow the GenAI semantic-convention advice and reach ~80 s, the length of a long
answer. Each app gets its own registry, so several instances in one process never clash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: OTel GenAI advice for gen_ai.client.operation.duration / gen_ai.server.request.duration.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
#: OTel GenAI advice for gen_ai.server.time_to_first_token, extended to ~80 s for slow upstreams.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0)
#: OTel GenAI advice for gen_ai.server.time_per_output_token.
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
#: OTel GenAI advice for gen_ai.client.token.usage.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
#: HTTP request duration: OTel HTTP advice plus the long tail of streamed chat answers.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
                40.0, 80.0)
LOOP_LAG_QUANTILES = ("0.5", "0.99", "max")

GEN_AI_LABELS = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")


class _LoopLagCollector(Collector):
    """Reads event-loop lag quantiles (seconds) from a callable at scrape time."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self.read = read

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "chatopt_event_loop_lag_seconds", "How late the event loop wakes up (recent samples)",
            labels=["quantile"],
        )

    def describe(self):  # noqa: ANN201 - prometheus_client's collector protocol
        yield self._family()

    def collect(self):  # noqa: ANN201
        family = self._family()
        for quantile, value in self.read().items():
            family.add_metric([quantile], value)
        yield family


@dataclass(frozen=True)
class ComponentCounts:
    """Cumulative counters kept by the cache and the router themselves."""

    cache_hits: dict[str, int] = field(default_factory=dict)  # layer -> hits
    cache_misses: int = 0
    route_decisions: dict[str, int] = field(default_factory=dict)  # tier -> decisions
    cost_usd: dict[str, float] = field(default_factory=dict)  # model -> dollars
    websocket_dead_dropped: int = 0
    load_shed: int = 0


class _ComponentCollector(Collector):
    """Cache hits by layer, routing decisions by tier and cost by model, as Prometheus counters."""

    def __init__(self, read: Callable[[], ComponentCounts]) -> None:
        self.read = read

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, ...]:
        return (
            CounterMetricFamily("chatopt_cache_lookups", "Answer-cache lookups by layer and result",
                                labels=["layer", "result"]),
            CounterMetricFamily("chatopt_route_decisions", "Model-routing decisions by tier",
                                labels=["tier"]),
            CounterMetricFamily("chatopt_llm_cost_usd", "Estimated LLM spend in US dollars",
                                labels=["model"]),
            CounterMetricFamily("chatopt_websocket_dead_peers_dropped",
                                "WebSocket peers closed by the heartbeat after going silent"),
            CounterMetricFamily("chatopt_load_shed", "Requests refused by load shedding (503)"),
        )

    def describe(self):  # noqa: ANN201 - prometheus_client's collector protocol
        yield from self._families()

    def collect(self):  # noqa: ANN201
        cache, routes, cost, dead, shed = self._families()
        counts = self.read()
        for layer, hits in counts.cache_hits.items():
            cache.add_metric([layer, "hit"], hits)
        cache.add_metric(["any", "miss"], counts.cache_misses)
        for tier, decisions in counts.route_decisions.items():
            routes.add_metric([tier], decisions)
        for model, dollars in counts.cost_usd.items():
            cost.add_metric([model], dollars)
        dead.add_metric([], counts.websocket_dead_dropped)
        shed.add_metric([], counts.load_shed)
        yield from (cache, routes, cost, dead, shed)


class ServerMetrics:
    """Every metric the reference server exports, on a registry of its own."""

    def __init__(self, provider: str = "openai") -> None:
        self.provider = provider
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Process RSS / fds / CPU and garbage-collector activity: leak and GC-pause monitoring.
        ProcessCollector(registry=r)
        GCCollector(registry=r)
        self.ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds", "Time from request start to the first answer token",
            GEN_AI_LABELS, buckets=TTFT_BUCKETS, registry=r,
        )
        self.time_per_output_token = Histogram(
            "gen_ai_server_time_per_output_token_seconds", "Time per output token after the first",
            GEN_AI_LABELS, buckets=TPOT_BUCKETS, registry=r,
        )
        self.operation_duration = Histogram(
            "gen_ai_client_operation_duration_seconds", "Duration of one LLM call, first byte to last",
            (*GEN_AI_LABELS, "error_type"), buckets=DURATION_BUCKETS, registry=r,
        )
        self.token_usage = Histogram(
            "gen_ai_client_token_usage", "Tokens per LLM call by type (input / output)",
            (*GEN_AI_LABELS, "gen_ai_token_type"), buckets=TOKEN_BUCKETS, registry=r,
        )
        self.http_duration = Histogram(
            "http_server_request_duration_seconds", "HTTP request duration until the last byte",
            ("http_request_method", "http_route", "http_response_status_code"), buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge("chatopt_inflight_requests", "HTTP requests being served now", registry=r)
        self.rate_limited = Counter(
            "chatopt_rate_limit_rejections", "Requests refused by a rate limit", ("policy",), registry=r,
        )
        self.input_rejections = Counter(
            "chatopt_input_rejections", "Messages refused by validation, spam or profanity checks",
            ("reason",), registry=r,
        )
        self.websocket_connections = Gauge(
            "chatopt_websocket_connections", "Open WebSocket connections", registry=r,
        )
        self.breaker_state = Gauge(
            "chatopt_circuit_breaker_state", "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open",
            ("upstream",), registry=r,
        )
        self.llm_retries = Counter("chatopt_llm_retries", "LLM calls retried", ("upstream",), registry=r)
        self.llm_fallbacks = Counter(
            "chatopt_llm_fallbacks", "Answers replaced by the friendly fallback message", ("reason",),
            registry=r,
        )
        self.alerts = Counter("chatopt_alerts", "Alerts raised (breaker opened, ...)", ("kind",), registry=r)
        self.redis_degraded = Counter(
            "chatopt_redis_failures", "Times Redis was unreachable and a fallback took over", ("component",),
            registry=r,
        )

    def watch_components(self, read: Callable[[], ComponentCounts]) -> None:
        """Export the cache's and router's own counters (read at scrape time)."""
        self.registry.register(_ComponentCollector(read))

    def watch_loop_lag(self, read: Callable[[], dict[str, float]]) -> None:
        """Export event-loop lag quantiles; ``read`` returns {"0.5": s, "0.99": s, "max": s}."""
        self.registry.register(_LoopLagCollector(read))

    def gen_ai_labels(self, model: str, operation: str = "chat") -> dict[str, str]:
        return {"gen_ai_operation_name": operation, "gen_ai_provider_name": self.provider,
                "gen_ai_request_model": model}

    def observe_llm_call(
        self,
        model: str,
        *,
        duration_s: float,
        ttft_s: float | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        error_type: str = "",
    ) -> None:
        """Record one finished LLM call under the GenAI metric names."""
        labels = self.gen_ai_labels(model)
        self.operation_duration.labels(**labels, error_type=error_type).observe(duration_s)
        if ttft_s is not None:
            self.ttft.labels(**labels).observe(ttft_s)
            if output_tokens and output_tokens > 1:
                per_token = (duration_s - ttft_s) / (output_tokens - 1)
                self.time_per_output_token.labels(**labels).observe(per_token)
        if input_tokens is not None:
            self.token_usage.labels(**labels, gen_ai_token_type="input").observe(input_tokens)
        if output_tokens is not None:
            self.token_usage.labels(**labels, gen_ai_token_type="output").observe(output_tokens)

    def render(self) -> bytes:
        """The exposition text for ``/metrics``."""
        return generate_latest(self.registry)
