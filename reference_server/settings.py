"""One settings object for the reference server; a profile is a set of switches.

``baseline`` is the honest "before" (every switch off); ``optimized`` turns every
fix of SPEC.md P1-P7 and Phase 2-3 on. Each switch can be flipped on its own
(``chatopt serve --set streaming=false``) so each step of the migration plan can
be measured alone.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Profile = Literal["baseline", "optimized"]

#: Switch names that differ between the profiles, in the order of SPEC's zero-downtime
#: migration plan (cache -> streaming -> routing -> DB -> monitoring) with context and
#: async and the Phase 2 hardening after them.
SWITCHES: tuple[str, ...] = (
    "cache",
    "streaming",
    "routing",
    "context_window",
    "async_io",
    "tiered_storage",
    "monitoring",
    "websocket",
    "rate_limits",
    "input_validation",
    "resilience",
)

DEV_SECRET = "chatopt-development-secret-change-me"


class ServerSettings(BaseModel):
    """Everything the reference server reads; built by ``settings_for_profile``."""

    profile: Profile = "baseline"

    # Upstream LLM (any OpenAI-compatible endpoint; the mock LLM in demos and tests).
    llm_base_url: str = "http://127.0.0.1:9100/v1"
    llm_api_key: str = "chatopt-local"
    llm_timeout_s: float = 30.0
    default_model: str = "large"
    model_small: str = "small"
    model_medium: str = "medium"
    model_large: str = "large"
    summary_model: str = "small"
    system_prompt: str = (
        "You are a helpful assistant for an enterprise chat product. Answer clearly and concisely."
    )

    # Identity.
    secret: str = DEV_SECRET

    # Storage: SQLite file by default, PostgreSQL in production; Redis optional.
    database_url: str = "sqlite+aiosqlite:///./chatopt-reference.db"
    redis_url: str | None = None

    # --- switches (all off in baseline, all on in optimized) ---
    cache: bool = False
    streaming: bool = False
    routing: bool = False
    context_window: bool = False
    async_io: bool = False
    tiered_storage: bool = False
    monitoring: bool = False
    websocket: bool = False
    rate_limits: bool = False
    input_validation: bool = False
    resilience: bool = False

    # P1 streaming: the first token goes out at once, then chunks are coalesced.
    stream_chunk_tokens: int = Field(16, ge=1, le=50)
    stream_chunk_ms: float = Field(50.0, gt=0, le=1000)

    # P4 context window.
    context_budget_tokens: int = 3000
    context_recent_exchanges: int = 3
    context_complex_budget_tokens: int = 4000
    summary_every_messages: int = 5
    summary_target_tokens: int = 200

    # P7 storage.
    history_page_max: int = 50
    write_batch_size: int = 64
    write_batch_ms: float = 5.0
    hot_tier_messages: int = 50
    cold_after_days: float = 7.0

    # P2 cache.
    cache_semantic: bool = True
    # Semantic-layer embeddings: offline MiniLM when unset, else this OpenAI-compatible /v1 base URL.
    cache_embeddings_url: str | None = None
    cache_embeddings_model: str = "text-embedding-3-small"
    # Cosine threshold of the semantic layer; 0.80 is what `chatopt cache-eval` recommends for the
    # offline MiniLM model with the trap guard (docs/BENCHMARKS.md); at 0.90 a third of paraphrases miss.
    cache_threshold: float = Field(0.80, gt=0, le=1)
    cache_ttl_faq_s: int = 7 * 24 * 3600
    cache_ttl_dynamic_s: int = 24 * 3600
    cache_max_entries: int = 100_000
    cache_scope: Literal["global", "tenant", "user"] = "tenant"

    # P6 realtime.
    ws_heartbeat_s: float = 30.0
    ws_max_connections: int = 10_000
    ws_messages_per_minute: int = 100
    ws_send_buffer: int = 256

    # Phase 2 limits and robustness.
    rate_free_per_hour: int = 100
    rate_premium_per_hour: int = 1000
    rate_ip_per_hour: int = 500
    capacity_inflight: int = 2000
    shed_at_fraction: float = 0.8
    rate_fail_open: bool = True
    max_message_chars: int = 2000
    spam_llm_classifier: bool = False  # also ask the small model whether a message is spam (one extra call)
    max_body_bytes: int = 64 * 1024
    llm_max_retries: int = 2
    breaker_error_rate: float = 0.10
    breaker_window_s: float = 30.0
    breaker_cooldown_s: float = 15.0
    alert_webhook_url: str | None = None
    otlp_endpoint: str | None = None

    def with_overrides(self, overrides: dict[str, Any]) -> ServerSettings:
        """A copy with ``overrides`` applied and validated (unknown names are an error)."""
        unknown = sorted(set(overrides) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        return type(self).model_validate({**self.model_dump(), **overrides})


def settings_for_profile(profile: Profile, **overrides: Any) -> ServerSettings:
    """The settings of a profile with ``overrides`` on top."""
    if profile not in ("baseline", "optimized"):
        raise ValueError(f"unknown profile {profile!r}: choose baseline or optimized")
    switches = {name: profile == "optimized" for name in SWITCHES}
    return ServerSettings(profile=profile).with_overrides({**switches, **overrides})
