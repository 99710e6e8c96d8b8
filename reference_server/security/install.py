"""Wire Phase 2 into an app: middleware at creation, pipeline slots once services exist.

Switches (``reference_server/settings.py``): ``input_validation`` adds the body-size cap
and the message filter; ``rate_limits`` adds load shedding and the rate-limit admission;
``resilience`` wraps the LLM client in retries, the circuit breaker and the fallback.
"""

from __future__ import annotations

from starlette.applications import Starlette

from reference_server.observability.alerts import Alerter
from reference_server.observability.metrics import ServerMetrics
from reference_server.observability.otel import setup_tracing
from reference_server.security.admission import MessageFilter, RateLimitAdmission, RateLimitHeadersMiddleware
from reference_server.security.llm_guard import GuardedLLM
from reference_server.security.ratelimit import SlidingWindowLimiter
from reference_server.security.resilience import CircuitBreaker, RetryPolicy
from reference_server.security.shedding import LoadShedder, LoadSheddingMiddleware
from reference_server.security.spam_classifier import LlmSpamClassifier
from reference_server.security.validation import BodySizeLimitMiddleware
from reference_server.services import Services
from reference_server.settings import ServerSettings


def metrics_of(app: Starlette) -> ServerMetrics:
    """The app's metrics, created on first use (shared by middleware and services)."""
    metrics = getattr(app.state, "metrics", None)
    if metrics is None:
        metrics = ServerMetrics()
        app.state.metrics = metrics
    return metrics


def install_hardening(app: Starlette, settings: ServerSettings) -> None:
    """Add the Phase 2 middleware (call before the app starts; innermost first)."""
    if settings.input_validation:
        app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.rate_limits:
        shedder = LoadShedder(settings.capacity_inflight, settings.shed_at_fraction)
        app.state.shedder = shedder
        app.add_middleware(RateLimitHeadersMiddleware)
        app.add_middleware(LoadSheddingMiddleware, shedder=shedder)


def attach_hardening(app: Starlette, services: Services) -> None:
    """Fill the pipeline's admission and input slots and guard the LLM client, per the switches."""
    settings = services.settings
    metrics = metrics_of(app)
    if settings.rate_limits:

        def count_redis_failure(_: BaseException) -> None:
            metrics.redis_degraded.labels("rate_limits").inc()

        limiter = SlidingWindowLimiter(services.redis, fail_open=settings.rate_fail_open,
                                       on_redis_error=count_redis_failure)
        services.admission = RateLimitAdmission(limiter, settings, metrics)
    if settings.resilience or settings.monitoring:
        breaker = None
        if settings.resilience:
            alerter = Alerter(metrics, settings.alert_webhook_url)
            app.state.alerter = alerter
            breaker = CircuitBreaker(
                "llm", error_rate=settings.breaker_error_rate, window_s=settings.breaker_window_s,
                cooldown_s=settings.breaker_cooldown_s, on_transition=alerter.breaker_transition,
            )
            metrics.breaker_state.labels("llm").set(0)
        tracing = setup_tracing(settings.otlp_endpoint) if settings.monitoring else None
        app.state.tracing = tracing
        services.llm = GuardedLLM(  # type: ignore[assignment]
            services.llm, breaker=breaker, timeout_s=settings.llm_timeout_s, metrics=metrics, tracing=tracing,
            policy=RetryPolicy(max_retries=settings.llm_max_retries if settings.resilience else 0),
        )
    if settings.input_validation:
        classifier = None
        if settings.spam_llm_classifier:
            classifier = LlmSpamClassifier(services.llm, settings.model_small)
        services.input_filter = MessageFilter(settings, metrics, classifier=classifier)
