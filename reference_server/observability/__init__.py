"""Phase 3 monitoring: GenAI Prometheus metrics, trace context, JSON logs, Server-Timing, health."""
