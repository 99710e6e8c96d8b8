"""Wire Phase 3 into an app (``monitoring`` switch): middleware, ``/readyz``, ``/metrics``, JSON logs."""

from __future__ import annotations

import dataclasses

from starlette.applications import Starlette
from starlette.routing import Route

from reference_server.observability.health import readiness_routes
from reference_server.observability.hops import time_hop
from reference_server.observability.logs import configure_json_logging
from reference_server.observability.metrics import ComponentCounts
from reference_server.observability.middleware import ObservabilityMiddleware
from reference_server.security.install import metrics_of
from reference_server.services import Services
from reference_server.settings import ServerSettings


def install_monitoring(app: Starlette, settings: ServerSettings) -> None:
    """Outermost middleware, readiness and metrics routes (call before the app starts, after hardening)."""
    if not settings.monitoring:
        return
    metrics = metrics_of(app)
    configure_json_logging()
    app.add_middleware(ObservabilityMiddleware, metrics=metrics,
                       tracing=lambda: getattr(app.state, "tracing", None))

    async def store_answers() -> bool:
        services: Services = app.state.services
        await services.store.list_conversations("readiness-probe", None, 1)
        return True

    async def redis_answers() -> bool:
        services: Services = app.state.services
        return services.redis is None or bool(await services.redis.ping())

    routes: list[Route] = readiness_routes({"database": store_answers, "redis": redis_answers}, metrics)
    for route in routes:
        app.router.routes.insert(0, route)


def attach_monitoring(app: Starlette, services: Services) -> None:
    """Export the services' gauges (event-loop lag) once they exist."""
    if not services.settings.monitoring:
        return
    services.metrics = metrics_of(app)
    time_hop(services.store, "db")
    if services.cache is not None:
        time_hop(services.cache, "cache", ("lookup", "store"))

    def read_lag() -> dict[str, float]:
        current = getattr(app.state, "services", None)
        if current is None:
            return {}
        snapshot = current.loop_lag.snapshot()
        return {"0.5": snapshot.p50_ms / 1000, "0.99": snapshot.p99_ms / 1000, "max": snapshot.max_ms / 1000}

    def read_components() -> ComponentCounts:
        current = getattr(app.state, "services", None)
        if current is None:
            return ComponentCounts()
        counts = component_counts(current, getattr(app.state, "realtime", None))
        shedder = getattr(app.state, "shedder", None)
        return dataclasses.replace(counts, load_shed=shedder.shed_total) if shedder is not None else counts

    if not getattr(app.state, "gauges_exported", False):
        services.metrics.watch_loop_lag(read_lag)
        services.metrics.watch_components(read_components)
        app.state.gauges_exported = True


def component_counts(services: Services, realtime: object | None = None) -> ComponentCounts:
    """The cache's, router's and WebSocket registry's own counters, when those components are on."""
    cache_stats = getattr(getattr(services.cache, "cache", services.cache), "stats", None)
    router_stats = getattr(getattr(services.router, "router", services.router), "stats", None)
    counts = ComponentCounts()
    if cache_stats is not None:
        counts = ComponentCounts(
            cache_hits={"exact": cache_stats.hits_exact, "semantic": cache_stats.hits_semantic},
            cache_misses=cache_stats.misses,
        )
    if router_stats is not None:
        counts = ComponentCounts(
            cache_hits=counts.cache_hits, cache_misses=counts.cache_misses,
            route_decisions=dict(router_stats.decisions), cost_usd=dict(router_stats.cost_usd),
        )
    registry = getattr(realtime, "registry", None)
    if registry is not None:
        counts = dataclasses.replace(counts, websocket_dead_dropped=registry.dropped_dead)
    return counts
