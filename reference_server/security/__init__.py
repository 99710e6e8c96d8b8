"""Phase 2 hardening: rate limits, load shedding, input checks and the LLM resilience policy."""
